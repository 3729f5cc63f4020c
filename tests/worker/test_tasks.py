"""The Celery app's configuration and the thin task wrappers (run in-process here;
tests/integration runs them in a real worker)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from celery import signals
from celery.exceptions import TimeLimitExceeded
from celery.fixups.django import DjangoWorkerFixup
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from webapp.jobs import dispatch, runner, services
from webapp.jobs.models import Job, ModelVersion
from worker import app
from worker.tasks import (
    evaluate_gallery_task,
    generate_images_task,
    prepare_evaluation_task,
    sweep_jobs_task,
    train_model_task,
)


def test_the_app_is_configured_for_long_idempotent_jobs() -> None:
    conf = app.conf
    assert conf.broker_url.startswith("redis://")
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_ignore_result is True
    assert conf.broker_transport_options["visibility_timeout"] > max(
        train_model_task.time_limit, generate_images_task.time_limit
    )
    schedule = conf.beat_schedule["sweep-stale-jobs"]
    assert schedule["task"] == "jobs.sweep"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQLite test database lives in memory: Django never closes it",
)
@pytest.mark.django_db(transaction=True)
def test_a_pool_process_keeps_its_database_connection_from_task_to_task() -> None:
    """What a worker's pool process does around each task (Celery's Django fixup
    and this app's receivers) keeps a connection within CONN_MAX_AGE, and drops
    one past it."""
    fixup = DjangoWorkerFixup(app)
    task = generate_images_task

    def around_a_task() -> None:
        signals.task_prerun.send(sender=task, task_id="t", task=task)
        fixup.on_task_prerun(sender=task)
        fixup.on_task_postrun(sender=task)
        signals.task_postrun.send(sender=task, task_id="t", task=task)

    connection.ensure_connection()
    kept = connection.connection
    for _ in range(3):
        around_a_task()
        assert connection.connection is kept
    connection.close_at = time.monotonic() - 1
    around_a_task()
    assert connection.connection is None


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQLite test database lives in memory: Django never closes it",
)
@pytest.mark.django_db(transaction=True)
def test_a_pool_process_replaces_a_connection_the_server_ended_between_tasks(
    terminate_backends: Callable[[Sequence[int]], None],
) -> None:
    fixup = DjangoWorkerFixup(app)
    task = generate_images_task
    connection.ensure_connection()
    ended = connection.connection.info.backend_pid
    signals.task_postrun.send(sender=task, task_id="t", task=task)
    fixup.on_task_postrun(sender=task)
    terminate_backends([ended])
    signals.task_prerun.send(sender=task, task_id="t", task=task)
    fixup.on_task_prerun(sender=task)
    assert Job.objects.count() == 0
    assert connection.connection.info.backend_pid != ended


@pytest.mark.parametrize(
    ("task", "name", "queue"),
    [
        (train_model_task, "jobs.train", "training"),
        (generate_images_task, "jobs.generate", "generation"),
        (sweep_jobs_task, "jobs.sweep", "maintenance"),
        (evaluate_gallery_task, "gallery.evaluate", "generation"),
        (prepare_evaluation_task, "gallery.prepare_evaluation", "generation"),
    ],
)
def test_tasks_have_names_queues_and_time_limits(
    task: Any, name: str, queue: str
) -> None:
    assert task.name == name
    assert name in app.tasks
    route = app.amqp.router.route({}, name, (), {})
    assert route["queue"].name == queue
    assert 0 < task.soft_time_limit < task.time_limit


@pytest.mark.parametrize(
    ("send", "name"),
    [
        (dispatch.train, "jobs.train"),
        (dispatch.generate, "jobs.generate"),
        (dispatch.evaluate_gallery, "gallery.evaluate"),
    ],
)
def test_dispatch_sends_only_the_job_id_by_task_name(
    monkeypatch: pytest.MonkeyPatch, send: Any, name: str
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        dispatch.app, "send_task", lambda name, **kwargs: sent.append((name, kwargs))
    )
    job_id = "6f1c3c4e-0d7e-4b8e-9a55-1d2b3c4d5e6f"
    send(job_id, task_id="task-1")
    assert sent == [(name, {"args": [job_id], "task_id": "task-1"})]


def test_every_name_dispatch_sends_is_a_registered_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    senders = [
        function
        for name, function in inspect.getmembers(dispatch, inspect.isfunction)
        if function.__module__ == dispatch.__name__
        and not name.startswith("_")
        # The others read the queues (readiness).
        and "task_id" in inspect.signature(function).parameters
    ]
    sent: list[str] = []
    monkeypatch.setattr(
        dispatch.app, "send_task", lambda name, **kwargs: sent.append(name)
    )
    for send in senders:
        send("6f1c3c4e-0d7e-4b8e-9a55-1d2b3c4d5e6f", task_id="task-1")
    assert len(sent) == len(senders) == 3
    for name in sent:
        assert name in app.tasks
        # The sending app routes the name to the queue the worker's app would.
        sending_route = dispatch.app.amqp.router.route({}, name, (), {})
        assert sending_route["queue"].name == (
            app.amqp.router.route({}, name, (), {})["queue"].name
        )


@pytest.mark.django_db
def test_train_task_runs_the_training_service(owner: User) -> None:
    job = Job.objects.create(
        owner=owner,
        kind=Job.Kind.TRAINING,
        params=services.validate_training_settings(
            {"n_components": 5, "bandwidth": 0.5}, preset="preview"
        ),
    )
    result = train_model_task.apply(args=[str(job.pk)])
    assert result.successful()
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert ModelVersion.objects.filter(training_job=job).count() == 1


@pytest.mark.django_db
def test_generate_task_runs_the_generation_service(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    job = Job.objects.create(
        owner=owner,
        kind=Job.Kind.GENERATION,
        params={
            "model_version": model_version.pk,
            "n_images": 3,
            "digit": None,
            "seed": 1,
            "temperature": 1.0,
        },
    )
    assert generate_images_task.apply(args=[str(job.pk)]).successful()
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.gallery.images.count() == 3


def test_a_busy_job_is_looked_at_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def busy(job_id: str) -> runner.RunOutcome:
        calls.append(job_id)
        return runner.RunOutcome.BUSY

    monkeypatch.setattr(runner, "run_training_job", busy)
    result = train_model_task.apply(args=["job-1"])
    assert result.successful()
    assert calls == ["job-1", "job-1"]


@pytest.mark.django_db
def test_sweep_task_runs_the_sweeper() -> None:
    assert sweep_jobs_task.apply().get() == {
        "requeued": 0,
        "failed": 0,
        "cancelled": 0,
        "redispatched": 0,
        "evaluations": 0,
    }


@pytest.mark.django_db
def test_sweep_task_reports_every_count(owner: User, make_job: Any) -> None:
    for cancel_requested in (False, True, True):
        make_job(
            owner,
            state=Job.State.RUNNING,
            attempts=settings.JOB_MAX_ATTEMPTS,
            heartbeat_at=timezone.now() - timedelta(hours=1),
            cancel_requested=cancel_requested,
        )
    assert sweep_jobs_task.apply().get() == {
        "requeued": 0,
        "failed": 1,
        "cancelled": 2,
        "redispatched": 0,
        "evaluations": 0,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("task", [train_model_task, generate_images_task])
def test_a_job_killed_at_its_hard_time_limit_fails_at_once(
    owner: User, make_job: Any, task: Any
) -> None:
    job = make_job(owner, state=Job.State.RUNNING, attempts=1, celery_task_id="task-1")
    other = make_job(
        owner, state=Job.State.RUNNING, attempts=1, celery_task_id="task-2"
    )
    # What the worker's main process calls once the hard limit killed the task.
    task.on_failure(TimeLimitExceeded(9), "task-1", (str(job.pk),), {}, None)
    task.on_failure(ValueError("not a timeout"), "task-2", (str(other.pk),), {}, None)

    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.FAILED, 1)
    assert f"hard time limit ({task.time_limit} s)" in job.error
    assert "not retried" in job.error
    assert job.finished_at is not None
    other.refresh_from_db()
    assert other.state == Job.State.RUNNING


@pytest.mark.django_db
def test_a_hard_time_limit_of_an_older_delivery_leaves_the_job_alone(
    owner: User, make_job: Any
) -> None:
    # The sweeper requeued the job under a new task id, and another worker runs it.
    job = make_job(owner, state=Job.State.RUNNING, attempts=2, celery_task_id="new")
    assert not runner.fail_at_hard_time_limit(str(job.pk), "old", 60)
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING


@pytest.mark.parametrize(
    ("evaluation", "datasets", "expected"),
    [
        (True, ["mnist"], ["gallery.prepare_evaluation"]),
        (True, [], []),
        (False, ["mnist"], []),
    ],
)
def test_a_starting_worker_queues_the_classifier_fit(
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    evaluation: bool,
    datasets: list[str],
    expected: list[str],
) -> None:
    from worker.celery_app import _prepare_evaluation

    settings.GALLERY_EVALUATION = evaluation
    settings.EVALUATION_PREPARE_DATASETS = datasets
    sent: list[str] = []
    monkeypatch.setattr(app, "send_task", lambda name, **kwargs: sent.append(name))
    _prepare_evaluation(sender=None)
    assert sent == expected
