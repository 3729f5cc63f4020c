"""Readiness: whether this process can serve and queue jobs right now.

``/readyz`` and ``manage.py readiness`` (the non-web services' health check) ask
the same three questions: the database answers, every migration is applied, the
broker answers. What they report beside it (queue lengths, the oldest queued
job's age) is what an operator watches when deciding to add workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from redis import RedisError

from webapp.jobs import dispatch
from webapp.jobs.models import Job

# Seconds the broker may take to answer: well inside a health check's timeout.
BROKER_TIMEOUT = 2.0


@dataclass
class Readiness:
    """Each check's outcome ("ok" or what is wrong) and the queues' state."""

    checks: dict[str, str] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    oldest_queued_seconds: float | None = None

    @property
    def missing(self) -> list[str]:
        return [name for name, outcome in self.checks.items() if outcome != "ok"]

    @property
    def ready(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "missing": self.missing,
            "checks": self.checks,
            "queues": self.queues,
            "oldest_queued_seconds": self.oldest_queued_seconds,
        }


def check_readiness() -> Readiness:
    """Check the database, the migrations and the broker; never raises."""
    result = Readiness()
    result.checks["database"] = _database()
    if result.checks["database"] == "ok":
        result.checks["migrations"] = _migrations()
        if result.checks["migrations"] == "ok":
            result.oldest_queued_seconds = _oldest_queued_seconds()
    else:
        result.checks["migrations"] = "unknown: the database is unavailable"
    queues = tuple(
        sorted({route["queue"] for route in settings.CELERY_TASK_ROUTES.values()})
    )
    try:
        result.queues = dispatch.queue_lengths(queues, timeout=BROKER_TIMEOUT)
        result.checks["broker"] = "ok"
    except RedisError as error:
        result.checks["broker"] = f"unavailable: {error}"
    return result


def _database() -> str:
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        return f"unavailable: {str(error).strip() or type(error).__name__}"
    return "ok"


def _migrations() -> str:
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return f"unknown: {error}"
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan)
        return f"not applied: {names}"
    return "ok"


def _oldest_queued_seconds() -> float | None:
    oldest = (
        Job.objects.filter(state=Job.State.QUEUED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if oldest is None:
        return None
    return round((timezone.now() - oldest).total_seconds(), 1)
