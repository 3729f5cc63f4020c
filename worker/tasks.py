"""Thin task wrappers: each takes a job id and calls one service."""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import Task, signals
from celery.exceptions import TimeLimitExceeded
from celery.worker import state as worker_state
from django.conf import settings

from webapp.gallery import evaluation
from webapp.jobs import maintenance, runner, task_names
from webapp.sweeps import services as sweeps
from worker.celery_app import app


class JobTask(Task):  # type: ignore[misc]
    """A job's task: when the hard time limit kills it, the job fails at once."""

    def on_failure(
        self,
        exc: Exception,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        # Called in the worker's main process: the process running the job is gone.
        if isinstance(exc, TimeLimitExceeded):
            runner.fail_at_hard_time_limit(args[0], task_id, self.time_limit)


@app.task(  # type: ignore[untyped-decorator]
    bind=True,
    base=JobTask,
    name=task_names.TRAIN,
    soft_time_limit=settings.TRAINING_SOFT_TIME_LIMIT,
    time_limit=settings.TRAINING_HARD_TIME_LIMIT,
)
def train_model_task(self: Task, job_id: str) -> None:
    """Run a training job; if a worker seems to hold it, look again once it is stale."""
    _retry_if_busy(self, runner.run_training_job(job_id))


@app.task(  # type: ignore[untyped-decorator]
    bind=True,
    base=JobTask,
    name=task_names.GENERATE,
    soft_time_limit=settings.GENERATION_SOFT_TIME_LIMIT,
    time_limit=settings.GENERATION_HARD_TIME_LIMIT,
)
def generate_images_task(self: Task, job_id: str) -> None:
    """Run a generation job; if a worker seems to hold it, look again once stale."""
    _retry_if_busy(self, runner.run_generation_job(job_id))


@app.task(  # type: ignore[untyped-decorator]
    name=task_names.EVALUATE_GALLERY,
    soft_time_limit=settings.EVALUATION_SOFT_TIME_LIMIT,
    time_limit=settings.EVALUATION_HARD_TIME_LIMIT,
)
def evaluate_gallery_task(gallery_id: str) -> str | None:
    """Compute a stored gallery's quality figures."""
    state = evaluation.evaluate_gallery(gallery_id)
    return None if state is None else str(state)


@app.task(  # type: ignore[untyped-decorator]
    name=task_names.PREPARE_EVALUATION,
    soft_time_limit=settings.EVALUATION_SOFT_TIME_LIMIT,
    time_limit=settings.EVALUATION_HARD_TIME_LIMIT,
)
def prepare_evaluation_task() -> list[str]:
    """Fit (once) the classifiers of EVALUATION_PREPARE_DATASETS."""
    return evaluation.prepare_evaluation(settings.EVALUATION_PREPARE_DATASETS)


def _retry_if_busy(task: Task, outcome: runner.RunOutcome) -> None:
    # Another worker's heartbeat was fresh: it may have died since, so look once more
    # after the stale threshold (the claim then takes the job over).
    if outcome is runner.RunOutcome.BUSY and not task.request.retries:
        raise task.retry(countdown=runner.takeover_delay(), max_retries=1)


@app.task(  # type: ignore[untyped-decorator]
    name=task_names.SWEEP,
    soft_time_limit=settings.SWEEP_SOFT_TIME_LIMIT,
    time_limit=settings.SWEEP_HARD_TIME_LIMIT,
)
def sweep_jobs_task() -> dict[str, int]:
    """Requeue, fail or cancel stale running jobs; send lost queued ones again."""
    return dataclasses.asdict(maintenance.sweep_jobs())


@app.task(  # type: ignore[untyped-decorator]
    name=task_names.FEED_PARAMETER_SWEEPS,
    soft_time_limit=settings.SWEEP_SOFT_TIME_LIMIT,
    time_limit=settings.SWEEP_HARD_TIME_LIMIT,
)
def feed_parameter_sweeps_task() -> int:
    """Queue waiting parameter-sweep runs into their owners' free slots."""
    return sweeps.feed_all_waiting_jobs()


@signals.worker_shutting_down.connect  # type: ignore[untyped-decorator]
def hand_back_trainings(**kwargs: Any) -> None:
    """A stopping worker's running trainings go back to the queue (a generation is
    short: the warm shutdown lets it finish)."""
    runner.hand_back_trainings(
        (request.args[0], request.id)
        for request in list(worker_state.active_requests)
        if request.name == task_names.TRAIN
    )
