"""The run protocol: how a worker claims, runs and finishes one delivery of a job.

Running a job follows one protocol for both kinds:

1. Claim the row with one conditional UPDATE (queued, or running with a stale
   heartbeat -> running, attempts + 1) that returns what the run needs of it.
   Zero rows means another delivery owns it or it has ended: log and return. The
   new ``attempts`` value is this run's fencing token; every later write is
   conditional on it.
2. Work, writing progress, phase and heartbeat to the row (throttled), and stop
   with ``_Cancelled`` at the first report after a cancel request, or with
   ``_HandedBack`` after a stopping worker asked for its training back (the job
   is queued again with its attempt given back, and sent once this run is over).
3. Mark the job succeeded and create the result (model version or gallery) all
   or nothing, the success's conditional UPDATE first: it re-checks the token
   and takes the row lock, so a redelivery can never add a second result. A
   training's is a transaction; a gallery's is one statement on PostgreSQL
   (`webapp.querysets.GuardedInsert`).
"""

from __future__ import annotations

import enum
import functools
import io
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NoReturn
from uuid import UUID

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import DurationField, F, Max, Q, QuerySet
from django.db.models.functions import Now

from generator.files import file_sha256
from generator.io import save_model
from generator.render import image_to_png
from generator.settings import SettingsError, validate_settings
from generator.training import model_metadata, train_model
from webapp import logs
from webapp.gallery.services import create_gallery, gallery_seeds
from webapp.jobs import dispatch, serving, signals
from webapp.jobs.models import (
    Job,
    ModelVersion,
    heartbeat_is_stale,
    lock_owner,
    stale_after,
)
from webapp.jobs.services import dispatch_on_commit
from webapp.jobs.walks import walk_frames
from webapp.querysets import Placeholder, PreparedUpdate

logger = logging.getLogger(__name__)

# Enough for a data set's list of sources tried and how to install it.
_ERROR_LENGTH = 4000
# The last lines a failed job logged (logs.JobLog keeps 20), tracebacks included.
_LOG_TAIL_LENGTH = 8000


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


class _HandedBack(Exception):
    """Raised from progress reports once the worker asked to requeue the job."""


class _LostClaim(Exception):
    """This run's claim was superseded (taken over, swept) or the row vanished."""


def _run_claimed(
    job_id: str | UUID, kind: str, what: str, work: Callable[[_Run], None]
) -> RunOutcome:
    """Claim the job and do ``work`` under a heartbeat; its end becomes the state."""
    with (
        logs.log_context(job_id=job_id),
        logs.JobLog.capture(str(job_id)) as log,
    ):
        run = _claim(job_id, kind)
        if not isinstance(run, _Run):
            return run
        attempt = run.attempt
        try:
            with (
                logs.log_context(user_id=run.owner_id),
                _heartbeat(job_id, attempt),
                run.outcome(what, log),
            ):
                logger.info("Job %s claimed (attempt %s)", job_id, attempt)
                work(run)
        finally:
            signals.announce_job_ended(job_id, kind=kind)
        if run.handed_back:
            # Sent only now that the heartbeat thread has stopped: the next claim
            # takes this run's attempt number again.
            job = Job.objects.filter(pk=job_id).first()
            if job is not None:
                dispatch_on_commit(job)
    return RunOutcome.RAN


def run_training_job(job_id: str | UUID) -> RunOutcome:
    """Run one delivery of a training job: claim it, train, store the model version."""
    return _run_claimed(job_id, Job.Kind.TRAINING, "Training", _train)


def run_generation_job(job_id: str | UUID) -> RunOutcome:
    """Run one delivery of a generation job: claim it, sample, store the gallery."""
    return _run_claimed(job_id, Job.Kind.GENERATION, "Generation", _generate)


def _train(run: _Run) -> None:
    training = validate_settings(run.params)
    result = train_model(training, data_dir=settings.DATA_DIR, callback=run.report)
    run.report("saving", 1.0)
    buffer = io.BytesIO()
    save_model(
        result.model,
        buffer,
        metadata=model_metadata(
            result, training, code_version=settings.CODE_VERSION, job=str(run.job_id)
        ),
    )
    content = buffer.getvalue()
    with transaction.atomic():
        run.succeed()
        lock_owner(run.owner_id)
        last = ModelVersion.objects.filter(owner_id=run.owner_id).aggregate(
            last=Max("version")
        )["last"]
        has_default = ModelVersion.objects.filter(
            owner_id=run.owner_id, is_default=True
        ).exists()
        ModelVersion.objects.create(
            owner_id=run.owner_id,
            name=run.name or "model",
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
            is_public=run.publish_model,
            training_job_id=run.job_id,
        )


def _generate(run: _Run) -> None:
    params = run.params
    # Its checksum, read with the claim, finds the model (cached, or checked
    # against it once read): the settings and metrics need not be read and decoded.
    if run.model_sha256 is None:
        raise serving.ModelUnavailable("The model version no longer exists.")
    model_version = serving.model_version_with_checksum(
        params["model_version"], run.model_sha256
    )
    # The claim wrote the phase; the line says it as a progress report would.
    logger.info("Job %s: loading", run.job_id)
    model = serving.cached_model(model_version)
    if model is None:
        model = serving.load_model_version(model_version)
        # Loading took a while: say so, and stop here if the job was cancelled.
        run.report("sampling", 0.1)
    # From a cached model, the job goes from the claim's phase to its result with
    # no write in between: sampling takes milliseconds, and the result
    # transaction checks for a cancellation.
    n_images, digit = int(params["n_images"]), params["digit"]
    seeds = gallery_seeds(int(params["seed"]), n_images)
    walk = params.get("walk")
    if walk is None:
        images = model.sample_seeds(
            seeds, digit=digit, temperature=float(params["temperature"])
        )
    else:
        images = walk_frames(model, params, owner_id=run.owner_id)
    pngs = [image_to_png(image) for image in images]
    # No "saving" progress write: the result's write checks the claim and a
    # cancellation a moment later, and the phase would last milliseconds.
    evaluate = settings.GALLERY_EVALUATION
    gallery = create_gallery(
        success=run.success(),
        job_id=run.job_id,
        owner_id=run.owner_id,
        model_version=model_version,
        digit=digit,
        seed=int(params["seed"]),
        temperature=float(params["temperature"]),
        evaluate=evaluate,
        pngs=pngs,
        walk=walk,
    )
    if gallery is None:
        run._stop()
    if evaluate:
        # The images are the user's result; the quality figures follow from
        # their own task, so the job never waits for the classifier.
        transaction.on_commit(functools.partial(_queue_evaluation, gallery.pk))


def fail_at_hard_time_limit(job_id: str | UUID, task_id: str, limit: int) -> bool:
    """The hard time limit killed the process running this delivery: fail the job
    now (it is not retried, it would only take as long again); False if it had
    already ended or moved on."""
    failed = Job.objects.filter(
        pk=job_id, celery_task_id=task_id, state=Job.State.RUNNING
    ).fail(
        f"The job ran longer than its hard time limit ({limit} s) and was "
        "stopped. It is not retried: it would take as long again."
    )
    if failed:
        logger.error("Job %s killed at its hard time limit (%s s)", job_id, limit)
    return bool(failed)


def hand_back_trainings(running: Iterable[tuple[str, str]]) -> int:
    """Ask the running trainings (job id, task id) of a stopping worker to go back
    to the queue at their next progress report; returns how many were asked."""
    asked = 0
    for job_id, task_id in running:
        asked += Job.objects.filter(
            pk=job_id,
            celery_task_id=task_id,
            kind=Job.Kind.TRAINING,
            state=Job.State.RUNNING,
        ).update(requeue_requested=True)
    if asked:
        logger.warning("Worker stopping: %s running trainings handed back", asked)
    return asked


def _queue_evaluation(gallery_id: int) -> None:
    try:
        dispatch.evaluate_gallery(
            gallery_id, task_id=dispatch.evaluation_task_id(gallery_id)
        )
    except Exception:
        # The broker is down: the job has its images and has succeeded, so this
        # must not fail it; the gallery's figures stay pending until the sweeper
        # sends the evaluation again (maintenance.redispatch_lost_evaluations).
        logger.warning("Could not queue the evaluation of gallery %s", gallery_id)


def takeover_delay() -> int:
    """Seconds after which a job whose worker died has a stale heartbeat."""
    return settings.JOB_STALE_AFTER_SECONDS + 1


#: The phase a claim writes: a generation loads its model first thing.
_FIRST_PHASE = {Job.Kind.TRAINING: "starting", Job.Kind.GENERATION: "loading"}


@functools.cache
def _claim_update() -> PreparedUpdate:
    """The claim's UPDATE, compiled once per process; the settings it depends on
    are placeholders, read at each claim."""
    claimable = Q(state=Job.State.QUEUED) | (
        Q(state=Job.State.RUNNING, cancel_requested=False)
        & heartbeat_is_stale(Placeholder("stale_after", DurationField()))
    )
    return PreparedUpdate(
        Job.objects.filter(
            claimable,
            pk=Placeholder("pk", Job._meta.get_field("id")),
            kind=Placeholder("kind", Job._meta.get_field("kind")),
            attempts__lt=Placeholder("max_attempts", Job._meta.get_field("attempts")),
        ),
        (
            "attempts",
            "owner_id",
            "params",
            "name",
            "publish_model",
            serving.params_model_checksum(),
        ),
        state=Job.State.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Now(),
        heartbeat_at=Now(),
        phase=Placeholder("phase", Job._meta.get_field("phase")),
        progress=0.0,
        error="",
        # Asked of an earlier run (whose worker then died before handing it back).
        requeue_requested=False,
    )


def _claim(job_id: str | UUID, kind: str) -> _Run | RunOutcome:
    """The run that now owns the job, or why there is none."""
    # The new attempt number comes back from the UPDATE itself: read afterwards, it
    # could already be a later claim's.
    claimed = _claim_update().rows(
        pk=job_id,
        kind=kind,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        stale_after=stale_after(),
        phase=_FIRST_PHASE[Job.Kind(kind)],
    )
    if claimed:
        attempt, owner_id, params, name, publish_model, model_sha256 = claimed[0]
        return _Run(
            job_id,
            attempt,
            owner_id=owner_id,
            params=params,
            name=name,
            publish_model=publish_model,
            model_sha256=model_sha256,
        )
    row = (
        Job.objects.filter(pk=job_id)
        .values("state", "attempts", "kind", "cancel_requested", "owner_id")
        .first()
    )
    # A duplicate delivery (the broker may deliver twice), a job cancelled while
    # queued, or a crashed worker's job that is not stale yet.
    with logs.log_context(user_id=row and row["owner_id"]):
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


def _attempt_rows(job_id: Any, attempt: Any) -> QuerySet[Job]:
    """The job's row while this attempt of it runs (values or placeholders)."""
    return Job.objects.filter(pk=job_id, state=Job.State.RUNNING, attempts=attempt)


@functools.cache
def _success_update() -> PreparedUpdate:
    """The success's UPDATE (`_Run.succeed`), compiled once per process."""
    return PreparedUpdate(
        _attempt_rows(
            Placeholder("pk", Job._meta.get_field("id")),
            Placeholder("attempt", Job._meta.get_field("attempts")),
        ).filter(cancel_requested=False),
        state=Job.State.SUCCEEDED,
        progress=1.0,
        phase="done",
        finished_at=Now(),
        heartbeat_at=Now(),
    )


class _Run:
    """One claimed attempt: what it read of the job with its claim, its progress
    reports, cancellation checks and ending."""

    def __init__(
        self,
        job_id: str | UUID,
        attempt: int,
        *,
        owner_id: int,
        params: dict[str, Any],
        name: str,
        publish_model: bool,
        model_sha256: str | None,
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.owner_id = owner_id
        self.params = params
        self.name = name
        self.publish_model = publish_model
        # A generation's model version's checksum (None: it is gone).
        self.model_sha256 = model_sha256
        self._last_phase = ""
        self._last_write = float("-inf")
        self.handed_back = False

    def _mine(self) -> QuerySet[Job]:
        return _attempt_rows(self.job_id, self.attempt)

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
            .filter(cancel_requested=False, requeue_requested=False)
            .update(phase=phase, progress=progress, heartbeat_at=Now())
        )
        if not written:
            self._stop()
        if phase != self._last_phase:
            logger.info("Job %s: %s", self.job_id, phase)
        self._last_phase, self._last_write = phase, now

    def _stop(self) -> NoReturn:
        """Raise what ended this run's claim (cancelled, handed back or lost)."""
        row = (
            Job.objects.filter(pk=self.job_id)
            .values("state", "attempts", "cancel_requested", "requeue_requested")
            .first()
        )
        if row is None:
            raise _LostClaim("the job row is gone")
        if row["attempts"] == self.attempt and (
            row["cancel_requested"] or row["state"] == Job.State.CANCELLED
        ):
            raise _Cancelled
        if (
            row["attempts"] == self.attempt
            and row["state"] == Job.State.RUNNING
            and row["requeue_requested"]
        ):
            raise _HandedBack
        raise _LostClaim(f"the job is now {row['state']}, attempt {row['attempts']}")

    def success(self) -> tuple[PreparedUpdate, dict[str, Any]]:
        """The job's success, written with its result: the UPDATE and its values.

        Its condition checks at once, under the row's lock, that this run still
        owns the job and that no cancellation was asked. When it changes no row,
        nothing of the result is written and the caller calls `_stop`.
        """
        return _success_update(), {"pk": self.job_id, "attempt": self.attempt}

    def succeed(self) -> None:
        """Mark the job succeeded: the first statement of a result's transaction
        (a training's). It takes the row lock; if the run no longer owns the job,
        it raises like a progress report (and the transaction rolls back)."""
        update, values = self.success()
        if not update.count(**values):
            self._stop()

    def _end(self, state: str, error: str = "", **columns: Any) -> None:
        self._mine().update(state=state, error=error, finished_at=Now(), **columns)

    def _fail(self, error: str, log: logs.JobLog) -> None:
        """Fail the job with the lines this attempt logged, in the same write: a
        client that sees ``failed`` sees them too."""
        self._end(Job.State.FAILED, error, log_tail=log.text(_LOG_TAIL_LENGTH))

    @contextmanager
    def outcome(self, what: str, log: logs.JobLog) -> Iterator[None]:
        """Turn the ways a run can end into the job's final state."""
        try:
            yield
        except _Cancelled:
            logger.info("Job %s cancelled (attempt %s)", self.job_id, self.attempt)
            self._end(Job.State.CANCELLED)
        except _HandedBack:
            logger.info(
                "Job %s handed back to the queue (worker stopping)", self.job_id
            )
            # The attempt is given back: a stop is no fault of the job's.
            self.handed_back = bool(
                self._mine().update(
                    state=Job.State.QUEUED,
                    attempts=F("attempts") - 1,
                    requeue_requested=False,
                    phase="requeued",
                    progress=0.0,
                    started_at=None,
                    heartbeat_at=None,
                    dispatched_at=Now(),
                )
            )
        except _LostClaim as lost:
            logger.warning(
                "Job %s attempt %s abandoned: %s", self.job_id, self.attempt, lost
            )
        except SoftTimeLimitExceeded:
            self._fail(f"{what} exceeded its time limit.", log)
            raise
        except Exception as exc:
            logger.exception("Job %s failed", self.job_id)
            self._fail(_error_text(exc), log)
            raise


def _error_text(exc: BaseException) -> str:
    """The whole message, every line of it: the last ones often say what to do."""
    text = str(exc).strip()
    if isinstance(exc, SettingsError | serving.ModelUnavailable):
        message = text
    else:
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > _ERROR_LENGTH:
        message = message[: _ERROR_LENGTH - 1] + "…"
    return message


class _Heartbeats:
    """The process's heartbeat thread: it refreshes the heartbeat of each job this
    process runs, every JOB_HEARTBEAT_SECONDS after the job's claim.

    Progress reports refresh it too, but one step of a training (a search fold on
    a large data set) can outlast the stale threshold; the thread keeps a live job
    from being taken over. One thread for the process's life (started on first
    use, and again in a forked child) rather than one per job: starting and
    joining a thread cost a short generation more than some of its queries on a
    busy machine. Its database connection is open only while it writes. A job is
    added without waking the thread when it will wake before the job's first beat
    anyway (jobs in a row: the beat of an earlier one): waking it at every job
    cost a generation a sixth of its CPU.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._changed = threading.Condition()
        # (job id, attempt) -> (interval, when the next beat is due)
        self._due: dict[tuple[str, int], tuple[float, float]] = {}
        self._thread: threading.Thread | None = None
        # When the thread waits, the moment it wakes by itself (monotonic).
        self._wakes_at = math.inf

    @contextmanager
    def keep(self, job_id: str | UUID, attempt: int) -> Iterator[None]:
        """Beat for this attempt of the job while the block runs."""
        interval = float(settings.JOB_HEARTBEAT_SECONDS)
        if not interval:
            yield
            return
        key = (str(job_id), attempt)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._beat, name="job-heartbeats", daemon=True
                )
                self._thread.start()
            due_at = time.monotonic() + interval
            self._due[key] = (interval, due_at)
            if due_at < self._wakes_at:
                self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                del self._due[key]

    def _beat(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [key for key, (_, at) in self._due.items() if at <= now]
                for key in due:
                    interval, _ = self._due[key]
                    self._due[key] = (interval, now + interval)
                if not due:
                    wait = min((at for _, at in self._due.values()), default=now + 60)
                    self._wakes_at = wait
                    self._changed.wait(timeout=wait - now)
                    self._wakes_at = math.inf
                    continue
            try:
                for job_id, attempt in due:
                    try:
                        Job.objects.filter(
                            pk=job_id, state=Job.State.RUNNING, attempts=attempt
                        ).update(heartbeat_at=Now())
                    except DatabaseError:
                        logger.warning(
                            "Heartbeat of job %s failed", job_id, exc_info=True
                        )
            finally:
                connection.close()


_heartbeats: _Heartbeats | None = None


def _heartbeat(job_id: str | UUID, attempt: int) -> AbstractContextManager[None]:
    """Beat for this attempt of the job while the block runs (see `_Heartbeats`)."""
    global _heartbeats
    if _heartbeats is None or _heartbeats.pid != os.getpid():
        # First use, or a forked child (a Celery pool process): the parent's
        # thread did not come along.
        _heartbeats = _Heartbeats()
    return _heartbeats.keep(job_id, attempt)
