from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webapp.jobs import maintenance, services


class Command(BaseCommand):
    help = (
        "Create the demo user and, unless a public model exists or is on its way, "
        "queue the training of the public demo model."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--preset",
            default=maintenance.DEMO_PRESET,
            choices=services.PRESET_NAMES,
            help="Training preset of the demo model (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            job = maintenance.seed_demo_model(preset=options["preset"])
        except services.SettingsError as error:
            raise CommandError(str(error)) from error
        if job is None:
            self.stdout.write("A public demo model already exists.")
        elif job.state == job.State.QUEUED:
            self.stdout.write(f"Demo model training queued: job {job.pk}.")
        else:
            self.stdout.write(f"Demo model training is {job.state}: job {job.pk}.")
