"""Use cases of parameter sweeps: create one, feed its runs in, cancel it, sample
its runs' models.

A sweep's training jobs are written up front in the ``waiting`` state, which the
per-user limits do not count and no worker claims. `feed_waiting_jobs` moves the
oldest of them to ``queued`` (and to the broker) as the owner's slots free up: when
the sweep is created, whenever one of the owner's jobs ends (the ``job_ended``
signal) and periodically (`feed_all_waiting_jobs`, run by beat), so that nothing
waits forever if a signal is missed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone

from webapp.gallery.models import Gallery
from webapp.jobs import limits
from webapp.jobs.models import Job, ModelVersion, lock_owner
from webapp.jobs.services import (
    JobConflict,
    cancel_job,
    create_generation_job,
    dispatch_on_commit,
)
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


#: A run's sample: enough images for a steady mean confidence, all from one seed,
#: so that every run's model is judged on the same draws.
SAMPLE_IMAGES = 64
SAMPLE_SEED = 0


@dataclasses.dataclass(frozen=True)
class RunSamples:
    """The runs' models without a sample confidence: ``missing`` (in run order)
    and, of those, the ids of the ones whose sample is on its way (a generation
    job queued or running, or a gallery being evaluated)."""

    missing: list[ModelVersion]
    on_the_way: frozenset[int]

    @property
    def to_sample(self) -> list[ModelVersion]:
        return [model for model in self.missing if model.pk not in self.on_the_way]


def run_samples(sweep: Sweep) -> RunSamples:
    """What sampling would do; ``sweep`` from `SweepQuerySet.with_runs`."""
    missing = [
        model
        for run in sweep.runs.all()
        if (model := getattr(run.job, "model_version", None)) is not None
        and run.sample_confidence is None  # type: ignore[attr-defined]
    ]
    if not missing:
        return RunSamples([], frozenset())
    ids = [model.pk for model in missing]
    evaluating = (
        Gallery.objects.independent_samples()
        .filter(model_version__in=ids, evaluation_state=Gallery.EvaluationState.PENDING)
        .values_list("model_version_id", flat=True)
    )
    generating = Job.objects.filter(
        owner_id=sweep.owner_id,
        kind=Job.Kind.GENERATION,
        state__in=(Job.State.QUEUED, Job.State.RUNNING),
        params__model_version__in=ids,
    ).values_list("params__model_version", flat=True)
    return RunSamples(missing, frozenset([*evaluating, *map(int, generating)]))


@dataclasses.dataclass(frozen=True)
class Sampling:
    """What `sample_runs` did: the jobs queued, how many samples were on their way
    already, and why the rest were not queued (None: nothing was refused)."""

    jobs: list[Job]
    on_the_way: int
    refused: limits.JobRefused | None


def sample_runs(sweep: Sweep, owner: AbstractBaseUser) -> Sampling:
    """Queue a gallery of SAMPLE_IMAGES independent samples (no digit asked, seed
    SAMPLE_SEED, the model's own temperature) from each run's model that has no
    sample confidence and no sample on its way: evaluated by themselves, they
    fill the runs' sample confidence. ``sweep`` from `SweepQuerySet.with_runs`.

    Queues as many as the owner's limits allow (`Sampling.refused` says why not
    the rest); raises `JobConflict` when there is nothing to sample, and
    `limits.JobRefused` when not even the first could be queued.
    """
    if not settings.GALLERY_EVALUATION:
        raise JobConflict(
            "Galleries are not evaluated on this server (GALLERY_EVALUATION is "
            "off): a sample would give no confidence."
        )
    with transaction.atomic():
        # Every submission's lock, taken before looking: of two clicks at once,
        # the second sees the first one's samples on their way.
        lock_owner(owner.pk)
        samples = run_samples(sweep)
        if not samples.missing:
            raise JobConflict(
                "No run's model lacks a sample confidence (a run gets its model "
                "when its training succeeds)."
            )
        to_sample = samples.to_sample
        if not to_sample:
            raise JobConflict("Every run's sample is on its way already.")
        jobs: list[Job] = []
        refused = None
        for model in to_sample:
            try:
                jobs.append(
                    create_generation_job(
                        owner,
                        model_version=model,
                        n_images=SAMPLE_IMAGES,
                        seed=SAMPLE_SEED,
                    )
                )
            except limits.JobRefused as refusal:
                if not jobs:
                    raise
                refused = refusal
                break
    return Sampling(jobs, len(samples.on_the_way), refused)
