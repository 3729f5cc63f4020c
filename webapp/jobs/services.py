"""Use cases of jobs: validate settings, create and cancel jobs, read their queue.

How a worker runs a job is in runner.py; serving models in serving.py; sweeping
and the demo model in maintenance.py.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import secrets
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from generator.search import widened_grid
from generator.settings import (
    MAX_SEED,
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    PRESETS,
    SettingsError,
    TrainingSettings,
    validate_settings,
)
from generator.walk import MAX_FRAMES as MAX_WALK_FRAMES
from webapp.jobs import dispatch, limits, signals
from webapp.jobs.models import Job, ModelVersion
from webapp.querysets import PreparedInsert

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_GENERATION_IMAGES",
    "MAX_SEED",
    "MAX_TEMPERATURE",
    "MAX_WALK_FRAMES",
    "MIN_TEMPERATURE",
    "PRESET_NAMES",
    "SETTING_NAMES",
    "GridAdvice",
    "JobConflict",
    "SettingsError",
    "cancel_job",
    "create_generation_job",
    "create_training_job",
    "delete_job",
    "dispatch_on_commit",
    "queue_position",
    "rerun_job",
    "validate_training_settings",
    "wider_grid",
]

PRESET_NAMES = tuple(PRESETS)
#: The training settings' field names, in the generator's order.
SETTING_NAMES = tuple(field.name for field in dataclasses.fields(TrainingSettings))
MAX_GENERATION_IMAGES = 256


class JobConflict(Exception):
    """The job's state forbids the request (cancel a finished job, delete a running
    one); the message says why."""


# --- Validation helpers the API shares ------------------------------------------------


def validate_training_settings(
    data: Mapping[str, Any], *, preset: str | None = None
) -> dict[str, Any]:
    """Validated settings as a JSON dict; SettingsError names every bad field."""
    return validate_settings(data, preset=preset).to_dict()


@dataclasses.dataclass(frozen=True)
class GridAdvice:
    """The chosen bandwidth sat on an ``edge`` ("lower" or "upper") of the grid
    searched; ``grid`` ({start, stop, num}) reaches a decade beyond it."""

    edge: str
    grid: dict[str, Any]


def wider_grid(
    settings: Mapping[str, Any], metrics: Mapping[str, Any]
) -> GridAdvice | None:
    """What to search next when a model's bandwidth is an end of its grid."""
    edge = metrics.get("bandwidth_grid_edge")
    if edge is None:
        return None
    grid = settings["bandwidth_grid"]
    start, stop, num = widened_grid((grid["start"], grid["stop"], grid["num"]), edge)
    return GridAdvice(edge, {"start": start, "stop": stop, "num": num})


# --- Creating and cancelling jobs -----------------------------------------------------


def create_training_job(
    owner: AbstractBaseUser,
    *,
    training_settings: Mapping[str, Any],
    name: str,
    publish_model: bool = False,
) -> Job:
    """Write a queued training job; it is dispatched once the transaction commits.

    Raises `limits.JobRefused` when the owner may not queue another one now.
    """
    return _create_job(
        owner,
        kind=Job.Kind.TRAINING,
        name=name,
        params=dict(training_settings),
        publish_model=publish_model,
    )


def create_generation_job(
    owner: AbstractBaseUser,
    *,
    model_version: ModelVersion,
    n_images: int,
    digit: int | None = None,
    seed: int | None = None,
    temperature: float | None = None,
    walk: dict[str, int | None] | None = None,
) -> Job:
    """Write a queued generation job (inputs already validated); dispatch on commit.

    ``temperature`` None means the model version's own. With ``walk`` (its end
    points), the job draws the frames of a latent walk.

    Raises `limits.JobRefused` when the owner may not queue another one now.
    """
    if temperature is None:
        temperature = model_version.default_temperature
    if seed is None:
        # Drawn here, not in the worker, so the job row says how to reproduce it.
        seed = secrets.randbelow(MAX_SEED + 1)
    params: dict[str, Any] = {
        "model_version": model_version.pk,
        "n_images": n_images,
        "digit": digit,
        "seed": seed,
        "temperature": temperature,
    }
    name = f"{n_images} images from {model_version}"
    if walk is not None:
        params.update(mode="walk", walk=walk)
        name = f"Walk of {n_images} frames from {model_version}"
    return _create_job(owner, kind=Job.Kind.GENERATION, name=name, params=params)


@functools.cache
def _job_insert() -> PreparedInsert:
    """A new job's INSERT, compiled once per process."""
    return PreparedInsert(Job)


def _create_job(owner: AbstractBaseUser, *, kind: str, **fields: Any) -> Job:
    with transaction.atomic():
        # Locks the owner's row: serialises this owner's submissions, so two cannot
        # take the last slot.
        queued_ahead = limits.check_can_queue(owner.pk, kind)
        job = Job(
            owner_id=owner.pk, kind=kind, celery_task_id=str(uuid.uuid4()), **fields
        )
        _job_insert().run([job])
        dispatch_on_commit(job)
    # What Job.objects.with_results() would read of the new job, known without
    # asking: no result yet, and the jobs queued before it are ahead of it.
    job.result_model_version_id = None  # type: ignore[attr-defined]
    job.result_gallery_id = None  # type: ignore[attr-defined]
    job.queue_position = queued_ahead + 1  # type: ignore[attr-defined]
    logger.info(
        "Job %s created (%s)",
        job.pk,
        kind,
        extra={"job_id": str(job.pk), "task_id": job.celery_task_id},
    )
    return job


def dispatch_on_commit(job: Job) -> None:
    """Send the job to the broker once the transaction commits."""
    job_id, kind, task_id = job.pk, job.kind, job.celery_task_id

    def send() -> None:
        try:
            if kind == Job.Kind.TRAINING:
                dispatch.train(job_id, task_id=task_id)
            else:
                dispatch.generate(job_id, task_id=task_id)
        except Exception:
            # The broker is down. The job stays queued, truly: once the broker is
            # back, the sweeper sends it (maintenance.redispatch_lost_jobs).
            logger.warning(
                "Could not send job %s to the broker; the sweeper will", job_id
            )

    transaction.on_commit(send)


def cancel_job(job: Job) -> Job:
    """Cancel a waiting or queued job now, or ask a running one to stop; JobConflict
    if ended."""
    now = timezone.now()
    stopped = Job.objects.filter(
        pk=job.pk, state__in=(Job.State.WAITING, Job.State.QUEUED)
    ).update(
        state=Job.State.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        phase="cancelled",
    )
    if not stopped:
        # Claimed in between, or running all along: the worker stops at its next
        # progress report and marks the job cancelled itself.
        stopped = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
            cancel_requested=True
        )
    job.refresh_from_db()
    if not stopped:
        raise JobConflict(f"The job has already finished ({job.state}).")
    if job.is_finished:
        signals.announce_job_ended(job.pk, kind=job.kind)
    return job


def delete_job(job: Job) -> None:
    """Delete a finished job; its model version or gallery stays. JobConflict if not."""
    deleted, _ = Job.objects.filter(pk=job.pk, state__in=Job.FINISHED_STATES).delete()
    if not deleted:
        job.refresh_from_db()
        raise JobConflict(f"The job is still {job.state}: cancel it first.")


def rerun_job(job: Job) -> Job:
    """Queue a new job with a finished job's settings; JobConflict if it cannot be."""
    if not job.is_finished:
        raise JobConflict(f"The job is still {job.state}: it can run again once done.")
    owner = job.owner
    if job.kind == Job.Kind.TRAINING:
        return create_training_job(
            owner,
            training_settings=validate_training_settings(job.params),
            name=job.name,
        )
    params = job.params
    model_version = (
        ModelVersion.objects.visible_to(owner)
        .without_file()
        .filter(pk=params.get("model_version"))
        .first()
    )
    if model_version is None:
        raise JobConflict("The model version it generated from no longer exists.")
    return create_generation_job(
        owner,
        model_version=model_version,
        n_images=params["n_images"],
        digit=params["digit"],
        seed=params["seed"],
        temperature=params["temperature"],
        walk=params.get("walk"),
    )


def queue_position(job: Job) -> int | None:
    """1 for the next job of its kind to start, 2 after that...; None unless queued."""
    if job.state != Job.State.QUEUED:
        return None
    return Job.objects.queued_ahead_of(job.kind, job.created_at, job.pk).count() + 1
