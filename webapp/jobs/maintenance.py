"""Maintenance: sweeping stale jobs, re-dispatching queued ones, the demo model."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.functions import Now

from webapp.jobs.models import Job, ModelVersion, heartbeat_is_stale
from webapp.jobs.services import (
    create_training_job,
    dispatch_on_commit,
    validate_training_settings,
)

logger = logging.getLogger(__name__)

DEMO_USERNAME = "demo"
DEMO_PRESET = "sharp"


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did."""

    requeued: int
    failed: int
    cancelled: int


def sweep_stale_jobs() -> SweepResult:
    """Deal with running jobs whose worker stopped sending heartbeats.

    Cancel-requested ones become cancelled; ones that used up their attempts
    become failed; the rest go back to the queue (their attempts count stays, so a
    job that keeps killing its worker ends after JOB_MAX_ATTEMPTS).
    """
    stale = Job.objects.filter(heartbeat_is_stale(), state=Job.State.RUNNING)
    cancelled = stale.filter(cancel_requested=True).update(
        state=Job.State.CANCELLED, finished_at=Now()
    )
    failed = stale.filter(
        cancel_requested=False, attempts__gte=settings.JOB_MAX_ATTEMPTS
    ).update(
        state=Job.State.FAILED,
        finished_at=Now(),
        error=(
            f"The worker stopped responding {settings.JOB_MAX_ATTEMPTS} times; "
            "giving up."
        ),
    )
    requeued = 0
    for job in stale.filter(cancel_requested=False).only("pk", "kind"):
        task_id = str(uuid.uuid4())
        with transaction.atomic():
            # Conditional again: a worker may have revived or taken it over since.
            if stale.filter(pk=job.pk, cancel_requested=False).update(
                state=Job.State.QUEUED,
                phase="requeued",
                progress=0.0,
                celery_task_id=task_id,
            ):
                job.celery_task_id = task_id
                dispatch_on_commit(job)
                requeued += 1
    if requeued or failed or cancelled:
        logger.warning(
            "Swept stale jobs: %s requeued, %s failed, %s cancelled",
            requeued,
            failed,
            cancelled,
        )
    return SweepResult(requeued=requeued, failed=failed, cancelled=cancelled)


def redispatch_queued_jobs() -> int:
    """Send every queued job to the broker again; returns how many.

    For a broker that lost its messages (a private Redis restarted empty). Extra
    messages are harmless: whichever delivery comes second finds the job claimed.
    """
    count = 0
    for job in Job.objects.filter(state=Job.State.QUEUED).only(
        "pk", "kind", "celery_task_id"
    ):
        dispatch_on_commit(job)
        count += 1
    return count


def seed_demo_model(*, preset: str = DEMO_PRESET) -> Job | None:
    """Make sure a public demo model exists or is on its way; the job if queued."""
    user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if ModelVersion.objects.filter(is_public=True).exists():
        return None
    pending = Job.objects.demo_trainings().for_owner(user).first()
    if pending is not None:
        if pending.state == Job.State.QUEUED:
            dispatch_on_commit(pending)
        return pending
    return create_training_job(
        user,
        training_settings=validate_training_settings({}, preset=preset),
        name=f"Demo model ({preset})",
        publish_model=True,
    )
