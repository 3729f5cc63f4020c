"""Use cases of parameter sweeps: create one, feed its runs in, cancel it.

A sweep's training jobs are written up front in the ``waiting`` state, which the
per-user limits do not count and no worker claims. `feed_waiting_jobs` moves the
oldest of them to ``queued`` (and to the broker) as the owner's slots free up: when
the sweep is created, whenever one of the owner's jobs ends (the ``job_ended``
signal) and periodically (`feed_all_waiting_jobs`, run by beat), so that nothing
waits forever if a signal is missed.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone

from webapp.jobs import limits
from webapp.jobs.models import Job, lock_owner
from webapp.jobs.services import JobConflict, cancel_job, dispatch_on_commit
from webapp.sweeps.models import Sweep, SweepRun

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

_NAME_LENGTH = 100


def run_name(sweep_name: str, values: Mapping[str, Any]) -> str:
    """A run's job name: the sweep's, then the settings it varies."""
    varied = ", ".join(f"{key}={value}" for key, value in values.items())
    name = f"{sweep_name} · {varied}"
    return name if len(name) <= _NAME_LENGTH else name[: _NAME_LENGTH - 1] + "…"


def create_sweep(
    owner: AbstractBaseUser,
    *,
    name: str,
    base: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    runs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> Sweep:
    """Write a sweep and a waiting training job per run (its grid values and
    validated settings), then queue as many as the owner's limits allow.

    Raises `limits.StorageQuotaExceeded` when the owner's storage is full.
    """
    with transaction.atomic():
        lock_owner(owner.pk)
        limits.check_storage(owner.pk)
        sweep = Sweep.objects.create(
            owner_id=owner.pk, name=name, base=dict(base), grid=dict(grid)
        )
        jobs = Job.objects.bulk_create(
            Job(
                owner_id=owner.pk,
                kind=Job.Kind.TRAINING,
                name=run_name(name, values),
                params=dict(training_settings),
                state=Job.State.WAITING,
                celery_task_id=str(uuid.uuid4()),
            )
            for values, training_settings in runs
        )
        SweepRun.objects.bulk_create(
            SweepRun(sweep=sweep, job=job, position=position, values=dict(values))
            for position, (job, (values, _)) in enumerate(zip(jobs, runs, strict=True))
        )
        feed_waiting_jobs(owner.pk)
    return sweep


def _waiting_trainings(owner_id: int | Subquery) -> QuerySet[Job]:
    return Job.objects.filter(
        owner_id=owner_id, kind=Job.Kind.TRAINING, state=Job.State.WAITING
    )


def feed_waiting_jobs(owner_id: int) -> int:
    """Queue the owner's oldest waiting jobs into their free slots; how many.

    With the owner's storage full, the waiting jobs fail at once with the quota's
    message rather than wait for space that may never be freed.
    """
    waiting = _waiting_trainings(owner_id)
    if not waiting.exists():
        return 0
    released = 0
    with transaction.atomic():
        # The same lock as submissions, so the slots counted stay free.
        lock_owner(owner_id)
        try:
            limits.check_storage(owner_id)
        except limits.StorageQuotaExceeded as full:
            waiting.update(
                state=Job.State.FAILED, error=str(full), finished_at=timezone.now()
            )
            return 0
        free = limits.active_limit(Job.Kind.TRAINING) - limits.active_jobs(
            owner_id, Job.Kind.TRAINING
        )
        if free <= 0:
            return 0
        oldest = waiting.order_by("sweep_run__sweep__created_at", "sweep_run__position")
        for job in oldest[:free]:
            if Job.objects.filter(pk=job.pk, state=Job.State.WAITING).update(
                state=Job.State.QUEUED
            ):
                dispatch_on_commit(job)
                released += 1
    if released:
        logger.info("Queued %s waiting sweep runs of user %s", released, owner_id)
    return released


def feed_after_job_ended(job_id: str | UUID, kind: str, **kwargs: Any) -> None:
    """The ``job_ended`` receiver: the job's owner may have a free training slot.

    A generation frees none (the waiting runs are trainings, which the periodic
    feed also fails once the owner's storage is full), so it costs no query.
    Otherwise the owner is looked up together with their waiting jobs: one query,
    when they have none (the usual case).
    """
    if kind != Job.Kind.TRAINING:
        return
    owner = Job.objects.filter(pk=job_id).values("owner_id")[:1]
    owner_id = (
        _waiting_trainings(Subquery(owner)).values_list("owner_id", flat=True).first()
    )
    if owner_id is not None:
        feed_waiting_jobs(owner_id)


def feed_all_waiting_jobs() -> int:
    """Feed every owner with waiting jobs (the periodic safety net); how many."""
    owners = (
        Job.objects.filter(state=Job.State.WAITING)
        .values_list("owner_id", flat=True)
        .distinct()
        .order_by()
    )
    return sum(feed_waiting_jobs(owner_id) for owner_id in owners)


def cancel_sweep(sweep: Sweep) -> None:
    """Cancel the sweep's waiting and queued runs, ask running ones to stop;
    JobConflict if every run has already ended."""
    jobs = Job.objects.filter(sweep_run__sweep=sweep).exclude(
        state__in=Job.FINISHED_STATES
    )
    if not jobs.exists():
        raise JobConflict("The sweep has already finished.")
    Sweep.objects.filter(pk=sweep.pk, cancelled_at__isnull=True).update(
        cancelled_at=timezone.now()
    )
    # Waiting runs first: cancelling a queued one frees a slot, which must not
    # feed in a run of this very sweep.
    for states in ((Job.State.WAITING,), (Job.State.QUEUED, Job.State.RUNNING)):
        for job in jobs.filter(state__in=states):
            with contextlib.suppress(JobConflict):  # ended in between
                cancel_job(job)
