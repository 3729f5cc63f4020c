"""Use cases of the job system: create, run, cancel and sweep jobs; serve models.

Running a job follows one protocol for both kinds:

1. Claim the row with one conditional UPDATE (queued, or running with a stale
   heartbeat -> running, attempts + 1). Zero rows means another delivery owns it
   or it has ended: log and return. The new ``attempts`` value is this run's
   fencing token; every later write is conditional on it.
2. Work, writing progress, phase and heartbeat to the row (throttled), and stop
   with ``_Cancelled`` at the first report after a cancel request.
3. Create the result (model version or gallery) and mark the job succeeded in one
   transaction that re-checks the token under a row lock, so a redelivery can
   never add a second result.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import io
import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from generator.files import file_sha256
from generator.io import load_model, save_model
from generator.model import SAMPLE_PIXEL_MAX, ImageGenerator
from generator.render import image_to_png
from generator.settings import (
    MAX_SEED,
    PRESETS,
    SettingsError,
    TrainingSettings,
    validate_settings,
)
from generator.training import model_metadata, train_model
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import dispatch
from webapp.jobs.models import Job, ModelVersion

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_GENERATION_IMAGES",
    "MAX_SEED",
    "MAX_SYNC_SAMPLES",
    "PRESET_NAMES",
    "SETTING_NAMES",
    "JobConflict",
    "ModelUnavailable",
    "RunOutcome",
    "SettingsError",
    "cancel_job",
    "create_generation_job",
    "create_training_job",
    "default_model_version",
    "model_file_bytes",
    "queue_position",
    "run_generation_job",
    "run_training_job",
    "sample_pngs",
    "seed_demo_model",
    "serving_model_version",
    "set_default_model_version",
    "sweep_stale_jobs",
    "validate_training_settings",
    "visible_model_versions",
]

PRESET_NAMES = tuple(PRESETS)
#: The training settings' field names, in the generator's order.
SETTING_NAMES = tuple(field.name for field in dataclasses.fields(TrainingSettings))
MAX_GENERATION_IMAGES = 256
MAX_SYNC_SAMPLES = 16
MIN_TEMPERATURE = 0.1
MAX_TEMPERATURE = 3.0
DEMO_USERNAME = "demo"
DEMO_PRESET = "sharp"
_ERROR_LENGTH = 300


class JobConflict(Exception):
    """The job has already finished, so it can no longer be cancelled."""


class ModelUnavailable(Exception):
    """No usable model: none trained yet, or its stored file failed its checks."""


class RunOutcome(enum.Enum):
    """What one delivery of a job task did."""

    #: This delivery ran the job to an end state.
    RAN = "ran"
    #: Nothing to do: the job has ended, does not exist or used up its attempts.
    SKIPPED = "skipped"
    #: Another worker holds the job and its heartbeat is fresh.
    BUSY = "busy"


class _Cancelled(Exception):
    """Raised from progress reports once the job's cancellation was requested."""


class _LostClaim(Exception):
    """This run's claim was superseded (taken over, swept) or the row vanished."""


# --- Validation helpers the API shares ------------------------------------------------


def validate_training_settings(
    data: Mapping[str, Any], *, preset: str | None = None
) -> dict[str, Any]:
    """Validated settings as a JSON dict; SettingsError names every bad field."""
    return validate_settings(data, preset=preset).to_dict()


def visible_model_versions(
    user: AbstractBaseUser | AnonymousUser,
) -> QuerySet[ModelVersion]:
    """Model versions ``user`` may read and sample: their own and public ones."""
    visible = Q(is_public=True)
    if user.is_authenticated:
        visible |= Q(owner_id=user.pk)
    return ModelVersion.objects.filter(visible).defer("model_file")


def default_model_version(user: AbstractBaseUser) -> ModelVersion | None:
    """The user's own default model version, if they have one."""
    return (
        ModelVersion.objects.filter(owner_id=user.pk, is_default=True)
        .defer("model_file")
        .first()
    )


def serving_model_version(
    user: AbstractBaseUser | AnonymousUser,
) -> ModelVersion | None:
    """The model behind the old app's API: the caller's default, else the demo."""
    if user.is_authenticated:
        own = default_model_version(user)
        if own is not None:
            return own
    return (
        ModelVersion.objects.filter(is_public=True)
        .defer("model_file")
        .order_by("-created_at")
        .first()
    )


# --- Creating and cancelling jobs -----------------------------------------------------


def create_training_job(
    owner: AbstractBaseUser,
    *,
    training_settings: Mapping[str, Any],
    name: str,
    publish_model: bool = False,
) -> Job:
    """Write a queued training job; it is dispatched once the transaction commits."""
    job = Job.objects.create(
        owner_id=owner.pk,
        kind=Job.Kind.TRAINING,
        name=name,
        params=dict(training_settings),
        publish_model=publish_model,
        celery_task_id=str(uuid.uuid4()),
    )
    _dispatch_on_commit(job)
    return job


def create_generation_job(
    owner: AbstractBaseUser,
    *,
    model_version: ModelVersion,
    n_images: int,
    digit: int | None = None,
    seed: int | None = None,
    temperature: float = 1.0,
) -> Job:
    """Write a queued generation job (inputs already validated); dispatch on commit."""
    if seed is None:
        # Drawn here, not in the worker, so the job row says how to reproduce it.
        seed = secrets.randbelow(MAX_SEED + 1)
    job = Job.objects.create(
        owner_id=owner.pk,
        kind=Job.Kind.GENERATION,
        name=f"{n_images} images from {model_version}",
        params={
            "model_version": model_version.pk,
            "n_images": n_images,
            "digit": digit,
            "seed": seed,
            "temperature": temperature,
        },
        celery_task_id=str(uuid.uuid4()),
    )
    _dispatch_on_commit(job)
    return job


def _dispatch_on_commit(job: Job) -> None:
    job_id, kind, task_id = job.pk, job.kind, job.celery_task_id

    def send() -> None:
        try:
            if kind == Job.Kind.TRAINING:
                dispatch.train(job_id, task_id=task_id)
            else:
                dispatch.generate(job_id, task_id=task_id)
        except Exception:
            # The broker is down: a job nobody will ever run must not look queued.
            logger.exception("Could not queue job %s", job_id)
            Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
                state=Job.State.FAILED,
                error="The job queue is unavailable; please try again later.",
                finished_at=timezone.now(),
            )

    transaction.on_commit(send)


def cancel_job(job: Job) -> Job:
    """Cancel a queued job now, or ask a running one to stop; JobConflict if ended."""
    now = timezone.now()
    stopped = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
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
    return job


def job_result_ids(job: Job) -> tuple[int | None, int | None]:
    """The ids of the model version and gallery the job created, if any."""
    model_version_id = (
        ModelVersion.objects.filter(training_job_id=job.pk)
        .values_list("pk", flat=True)
        .first()
    )
    gallery_id = (
        Gallery.objects.filter(job_id=job.pk).values_list("pk", flat=True).first()
    )
    return model_version_id, gallery_id


def queue_position(job: Job) -> int | None:
    """1 for the next job of its kind to start, 2 after that...; None unless queued."""
    if job.state != Job.State.QUEUED:
        return None
    ahead = Job.objects.filter(
        kind=job.kind, state=Job.State.QUEUED, created_at__lt=job.created_at
    ).count()
    return ahead + 1


# --- Running jobs (called by the worker tasks) ---------------------------------------


def run_training_job(job_id: str | UUID) -> RunOutcome:
    """Run one delivery of a training job: claim it, train, store the model version."""
    attempt = _claim(job_id, Job.Kind.TRAINING)
    if not isinstance(attempt, int):
        return attempt
    run = _Run(job_id, attempt)
    with _heartbeat(job_id, attempt), run.outcome("Training"):
        job = Job.objects.get(pk=job_id)
        training = validate_settings(job.params)
        result = train_model(training, data_dir=settings.DATA_DIR, callback=run.report)
        run.report("saving", 1.0)
        buffer = io.BytesIO()
        save_model(
            result.model,
            buffer,
            metadata=model_metadata(
                result, training, code_version=settings.CODE_VERSION, job=str(job.pk)
            ),
        )
        content = buffer.getvalue()
        with transaction.atomic():
            job = run.lock()
            _lock_user(job.owner_id)
            last = ModelVersion.objects.filter(owner_id=job.owner_id).aggregate(
                last=Max("version")
            )["last"]
            has_default = ModelVersion.objects.filter(
                owner_id=job.owner_id, is_default=True
            ).exists()
            ModelVersion.objects.create(
                owner_id=job.owner_id,
                name=job.name or "model",
                version=(last or 0) + 1,
                dataset=result.dataset_name,
                dataset_digest=result.dataset_digest,
                settings=training.to_dict(),
                seed=training.seed,
                code_version=settings.CODE_VERSION,
                metrics=result.metrics,
                model_file=content,
                model_sha256=file_sha256(content),
                model_size=len(content),
                is_default=not has_default,
                is_public=job.publish_model,
                training_job=job,
            )
            run.succeed()
    return RunOutcome.RAN


def run_generation_job(job_id: str | UUID) -> RunOutcome:
    """Run one delivery of a generation job: claim it, sample, store the gallery."""
    attempt = _claim(job_id, Job.Kind.GENERATION)
    if not isinstance(attempt, int):
        return attempt
    run = _Run(job_id, attempt)
    with _heartbeat(job_id, attempt), run.outcome("Generation"):
        job = Job.objects.get(pk=job_id)
        params = job.params
        model_version = (
            ModelVersion.objects.defer("model_file")
            .filter(pk=params["model_version"])
            .first()
        )
        if model_version is None:
            raise ModelUnavailable("The model version no longer exists.")
        run.report("loading", 0.0)
        model = _load(model_version)
        n_images, digit = int(params["n_images"]), params["digit"]
        seeds = list(gallery_seeds(int(params["seed"]), n_images))
        evaluate = settings.GALLERY_EVALUATION
        sampling_end = 0.8 if evaluate else 0.95
        images = np.empty((n_images, *model.image_shape_), dtype=np.uint8)
        for index, seed in enumerate(seeds):
            run.report("sampling", 0.1 + (sampling_end - 0.1) * index / n_images)
            images[index] = model.sample(
                1,
                digit=digit,
                random_state=seed,
                temperature=float(params["temperature"]),
            )[0]
        pngs = [image_to_png(image) for image in images]
        evaluation = None
        if evaluate:
            run.report("evaluating", sampling_end)
            evaluation = _evaluate(images, model_version.dataset, digit)
        run.report("saving", 0.99)
        with transaction.atomic():
            job = run.lock()
            gallery = Gallery.objects.create(
                owner_id=job.owner_id,
                job=job,
                model_version=model_version,
                n_images=n_images,
                digit=digit,
                seed=int(params["seed"]),
                temperature=float(params["temperature"]),
                evaluation=evaluation,
            )
            GeneratedImage.objects.bulk_create(
                GeneratedImage(
                    gallery=gallery, index=index, digit=digit, seed=seed, png=png
                )
                for index, (seed, png) in enumerate(zip(seeds, pngs, strict=True))
            )
            run.succeed()
    return RunOutcome.RAN


def takeover_delay() -> int:
    """Seconds after which a job whose worker died has a stale heartbeat."""
    return settings.JOB_STALE_AFTER_SECONDS + 1


def _claim(job_id: str | UUID, kind: str) -> int | RunOutcome:
    """The attempt number that now owns the job, or why there is none."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    claimable = Q(state=Job.State.QUEUED) | Q(
        state=Job.State.RUNNING,
        heartbeat_at__lt=stale_before,
        cancel_requested=False,
    )
    claimed = Job.objects.filter(
        claimable,
        pk=job_id,
        kind=kind,
        attempts__lt=settings.JOB_MAX_ATTEMPTS,
    ).update(
        state=Job.State.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        phase="starting",
        progress=0.0,
        error="",
    )
    row = (
        Job.objects.filter(pk=job_id)
        .values("state", "attempts", "kind", "cancel_requested")
        .first()
    )
    if claimed and row is not None:
        logger.info("Job %s claimed (attempt %s)", job_id, row["attempts"])
        return int(row["attempts"])
    # A duplicate delivery (the broker may deliver twice), a job cancelled while
    # queued, or a crashed worker's job that is not stale yet.
    logger.info("Job %s not claimed: %s", job_id, row or "no such job")
    if (
        row is not None
        and row["state"] == Job.State.RUNNING
        and row["kind"] == kind
        and row["attempts"] < settings.JOB_MAX_ATTEMPTS
        and not row["cancel_requested"]
    ):
        return RunOutcome.BUSY
    return RunOutcome.SKIPPED


class _Run:
    """One claimed attempt: its progress reports, cancellation checks and ending."""

    def __init__(self, job_id: str | UUID, attempt: int) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self._last_phase = ""
        self._last_write = float("-inf")

    def _mine(self) -> QuerySet[Job]:
        return Job.objects.filter(
            pk=self.job_id, state=Job.State.RUNNING, attempts=self.attempt
        )

    def report(self, phase: str, fraction: float) -> None:
        """Progress callback: write it (throttled) and stop if cancelled."""
        now = time.monotonic()
        if (
            phase == self._last_phase
            and now - self._last_write < settings.JOB_PROGRESS_WRITE_SECONDS
        ):
            return
        # Progress reaches 1.0 only with success, after the result is stored.
        progress = min(max(float(fraction), 0.0), 0.99)
        written = (
            self._mine()
            .filter(cancel_requested=False)
            .update(phase=phase, progress=progress, heartbeat_at=timezone.now())
        )
        if not written:
            self._stop()
        self._last_phase, self._last_write = phase, now

    def _stop(self) -> None:
        row = (
            Job.objects.filter(pk=self.job_id)
            .values("state", "attempts", "cancel_requested")
            .first()
        )
        if row is None:
            raise _LostClaim("the job row is gone")
        if row["attempts"] == self.attempt and (
            row["cancel_requested"] or row["state"] == Job.State.CANCELLED
        ):
            raise _Cancelled
        raise _LostClaim(f"the job is now {row['state']}, attempt {row['attempts']}")

    def lock(self) -> Job:
        """Lock the row inside the result transaction and check we still own it."""
        job = Job.objects.select_for_update().filter(pk=self.job_id).first()
        if (
            job is None
            or job.state != Job.State.RUNNING
            or job.attempts != self.attempt
        ):
            self._stop()
        assert job is not None
        if job.cancel_requested:
            raise _Cancelled
        return job

    def succeed(self) -> None:
        now = timezone.now()
        self._mine().update(
            state=Job.State.SUCCEEDED,
            progress=1.0,
            phase="done",
            finished_at=now,
            heartbeat_at=now,
        )

    def _end(self, state: str, error: str = "") -> None:
        self._mine().update(state=state, error=error, finished_at=timezone.now())

    @contextmanager
    def outcome(self, what: str) -> Iterator[None]:
        """Turn the ways a run can end into the job's final state."""
        try:
            yield
        except _Cancelled:
            logger.info("Job %s cancelled (attempt %s)", self.job_id, self.attempt)
            self._end(Job.State.CANCELLED)
        except _LostClaim as lost:
            logger.warning(
                "Job %s attempt %s abandoned: %s", self.job_id, self.attempt, lost
            )
        except SoftTimeLimitExceeded:
            self._end(Job.State.FAILED, f"{what} exceeded its time limit.")
            raise
        except Exception as exc:
            logger.exception("Job %s failed", self.job_id)
            self._end(Job.State.FAILED, _short_error(exc))
            raise


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SettingsError | ModelUnavailable):
        message = text
    else:
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > _ERROR_LENGTH:
        message = message[: _ERROR_LENGTH - 1] + "…"
    return message


def _lock_user(user_id: int) -> None:
    # Serialises per-owner version numbering and default swaps (a no-op on
    # SQLite, where write transactions are serial anyway).
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values("pk"))


@contextmanager
def _heartbeat(job_id: str | UUID, attempt: int) -> Iterator[None]:
    """Refresh the job's heartbeat from a thread while the body runs.

    Progress reports refresh it too, but one step of a training (a search fold on
    a large data set) can outlast the stale threshold; the thread keeps a live job
    from being taken over.
    """
    interval = settings.JOB_HEARTBEAT_SECONDS
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    Job.objects.filter(
                        pk=job_id, state=Job.State.RUNNING, attempts=attempt
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    logger.warning("Heartbeat of job %s failed", job_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


# --- Model files and sampling ---------------------------------------------------------


class _ModelCache:
    """Loaded models by file SHA-256, least recently used first out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: OrderedDict[str, ImageGenerator] = OrderedDict()

    def get(self, sha256: str) -> ImageGenerator | None:
        with self._lock:
            model = self._models.get(sha256)
            if model is not None:
                self._models.move_to_end(sha256)
            return model

    def put(self, sha256: str, model: ImageGenerator) -> None:
        with self._lock:
            self._models[sha256] = model
            self._models.move_to_end(sha256)
            while len(self._models) > settings.MODEL_CACHE_SIZE:
                self._models.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


model_cache = _ModelCache()


def model_file_bytes(model_version: ModelVersion) -> bytes:
    """The stored .npz, after checking it against its recorded SHA-256."""
    stored = (
        ModelVersion.objects.filter(pk=model_version.pk)
        .values_list("model_file", flat=True)
        .first()
    )
    content = bytes(stored) if stored is not None else b""
    if file_sha256(content) != model_version.model_sha256:
        logger.error("Model version %s failed its SHA-256 check", model_version.pk)
        raise ModelUnavailable(
            "The stored model file does not match its checksum; retrain the model."
        )
    return content


def _load(model_version: ModelVersion) -> ImageGenerator:
    model = model_cache.get(model_version.model_sha256)
    if model is None:
        model, _ = load_model(model_file_bytes(model_version))
        model_cache.put(model_version.model_sha256, model)
    return model


def sample_pngs(
    model_version: ModelVersion, n_samples: int, *, digit: int | None = None
) -> list[bytes]:
    """Fresh random samples as PNGs, straight from the model (no job, no rows)."""
    try:
        model = _load(model_version)
    except ValueError as exc:  # ModelFileError is a ValueError
        raise ModelUnavailable(f"The model file could not be loaded: {exc}") from exc
    images = model.sample(n_samples, digit=digit, random_state=None)
    return [image_to_png(image) for image in images]


@functools.lru_cache(maxsize=2)
def _evaluation_tools(dataset_name: str) -> tuple[Any, Any]:
    from generator.classifier import load_classifier
    from generator.datasets import load_dataset

    dataset = load_dataset(dataset_name, data_dir=settings.DATA_DIR)
    return dataset, load_classifier(dataset, data_dir=settings.DATA_DIR)


def _evaluate(
    images: np.ndarray, dataset_name: str, digit: int | None
) -> dict[str, Any] | None:
    """The generator's quality figures, or None: a gallery never fails for them."""
    from generator.evaluate import evaluate_images

    try:
        dataset, classifier = _evaluation_tools(dataset_name)
        return evaluate_images(
            images,
            dataset=dataset,
            classifier=classifier,
            requested_digit=digit,
            pixel_max=SAMPLE_PIXEL_MAX,
        )
    except (SoftTimeLimitExceeded, _Cancelled, _LostClaim):
        raise
    except Exception:
        logger.warning("Evaluating a %s gallery failed", dataset_name, exc_info=True)
        return None


# --- Model versions -------------------------------------------------------------------


def set_default_model_version(model_version: ModelVersion) -> ModelVersion:
    """Make this the owner's default, unsetting the previous one atomically."""
    with transaction.atomic():
        _lock_user(model_version.owner_id)
        ModelVersion.objects.filter(
            owner_id=model_version.owner_id, is_default=True
        ).exclude(pk=model_version.pk).update(is_default=False)
        ModelVersion.objects.filter(pk=model_version.pk).update(is_default=True)
    model_version.is_default = True
    return model_version


# --- Maintenance ----------------------------------------------------------------------


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
    now = timezone.now()
    stale = Job.objects.filter(
        state=Job.State.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS),
    )
    cancelled = stale.filter(cancel_requested=True).update(
        state=Job.State.CANCELLED, finished_at=now
    )
    failed = stale.filter(
        cancel_requested=False, attempts__gte=settings.JOB_MAX_ATTEMPTS
    ).update(
        state=Job.State.FAILED,
        finished_at=now,
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
                _dispatch_on_commit(job)
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
        _dispatch_on_commit(job)
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
    pending = Job.objects.filter(
        owner=user,
        kind=Job.Kind.TRAINING,
        publish_model=True,
        state__in=[Job.State.QUEUED, Job.State.RUNNING],
    ).first()
    if pending is not None:
        if pending.state == Job.State.QUEUED:
            _dispatch_on_commit(pending)
        return pending
    return create_training_job(
        user,
        training_settings=validate_training_settings({}, preset=preset),
        name=f"Demo model ({preset})",
        publish_model=True,
    )


def gallery_seeds(seed: int, n_images: int) -> Sequence[int]:
    """The per-image seeds of a gallery: image ``i`` is sampled with ``seed + i``."""
    return range(seed, seed + n_images)
