"""Maintenance: sweeping stale and lost jobs, re-dispatching queued ones, the demo
model."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.functions import Now

from webapp.gallery.models import Gallery
from webapp.jobs import dispatch
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
    #: Queued jobs sent to the broker again (their message was lost).
    redispatched: int = 0
    #: Pending gallery evaluations sent again (their message was lost or never sent).
    evaluations: int = 0


def sweep_jobs() -> SweepResult:
    """The periodic sweep: stale running jobs, then lost queued jobs and lost
    gallery evaluations."""
    return replace(
        sweep_stale_jobs(),
        redispatched=redispatch_lost_jobs(),
        evaluations=redispatch_lost_evaluations(),
    )


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
    ).fail(
        f"The worker stopped responding {settings.JOB_MAX_ATTEMPTS} times; giving up."
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
                dispatched_at=Now(),
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


def redispatch_lost_jobs() -> int:
    """Send again the queued jobs whose message the broker lost; returns how many.

    Only jobs sent JOB_QUEUED_GRACE_SECONDS ago or earlier, and not those whose
    message is still in the broker (waiting behind others), so a long queue is not
    sent twice. If the broker cannot be inspected, each such job is sent again at
    most once per grace period. The task id stays the same: if the original message
    turns up after all, whichever delivery comes second finds the job claimed.
    """
    grace = settings.JOB_QUEUED_GRACE_SECONDS
    overdue = Job.objects.filter(
        state=Job.State.QUEUED, dispatched_at__lt=Now() - timedelta(seconds=grace)
    )
    jobs = list(overdue.only("pk", "kind", "celery_task_id"))
    if not jobs:
        return 0
    waiting = _task_ids_in_broker(grace) or set()
    count = 0
    for job in jobs:
        # Conditional: another sweep (or a cancel) may have got there first.
        if job.celery_task_id not in waiting and overdue.filter(pk=job.pk).update(
            dispatched_at=Now()
        ):
            dispatch_on_commit(job)
            count += 1
    if count:
        logger.warning("Sent %s queued jobs whose message was lost again", count)
    return count


def redispatch_lost_evaluations() -> int:
    """Send again the evaluations of galleries pending for longer than
    JOB_QUEUED_GRACE_SECONDS whose message the broker no longer holds (the broker
    was down when the generation ended, or lost the message); returns how many.

    Nothing is sent while the broker cannot be inspected: it could not take the
    message either. A second delivery is harmless: the evaluation only fills in a
    pending gallery.
    """
    grace = settings.JOB_QUEUED_GRACE_SECONDS
    pending = list(
        Gallery.objects.filter(
            evaluation_state=Gallery.EvaluationState.PENDING,
            created_at__lt=Now() - timedelta(seconds=grace),
        ).values_list("pk", flat=True)
    )
    if not pending:
        return 0
    waiting = _task_ids_in_broker(grace)
    if waiting is None:
        return 0
    lost = [pk for pk in pending if dispatch.evaluation_task_id(pk) not in waiting]
    for pk in lost:
        dispatch.evaluate_gallery(pk, task_id=dispatch.evaluation_task_id(pk))
    if lost:
        logger.warning("Sent %s lost gallery evaluations again", len(lost))
    return len(lost)


def _task_ids_in_broker(grace: float) -> set[str] | None:
    """The task ids the broker holds (`dispatch.waiting_task_ids`); None if it
    cannot be inspected."""
    try:
        return dispatch.waiting_task_ids(delivered_within=grace)
    except Exception:
        logger.warning("Could not inspect the broker's queues", exc_info=True)
        return None


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
