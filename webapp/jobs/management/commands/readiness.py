from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webapp.jobs import readiness


class Command(BaseCommand):
    help = (
        "Print what /readyz answers (database, migrations, broker, queues) as JSON; "
        "exit 1 when something is missing. The health check of beat."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = readiness.check_readiness()
        self.stdout.write(json.dumps(result.as_dict()))
        if not result.ready:
            raise CommandError(f"not ready: {', '.join(result.missing)}")
