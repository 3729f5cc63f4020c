from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from webapp.jobs import maintenance


class Command(BaseCommand):
    help = (
        "Requeue, fail or cancel running jobs whose heartbeat went stale, and "
        "send queued jobs whose message the broker lost again (what the beat "
        "schedule runs every JOB_SWEEP_INTERVAL_SECONDS)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--redispatch-queued",
            action="store_true",
            help="Also send every queued job to the broker again (after the broker "
            "lost its messages, e.g. a restarted private Redis).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = maintenance.sweep_jobs()
        self.stdout.write(
            f"Stale jobs: {result.requeued} requeued, {result.failed} failed, "
            f"{result.cancelled} cancelled. Lost queued jobs sent again: "
            f"{result.redispatched}. Lost gallery evaluations sent again: "
            f"{result.evaluations}."
        )
        if options["redispatch_queued"]:
            count = maintenance.redispatch_queued_jobs()
            self.stdout.write(f"Queued jobs sent to the broker again: {count}.")
