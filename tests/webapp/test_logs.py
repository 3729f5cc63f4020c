"""webapp/logs.py: the log context on each line, the JSON format, and the log tail
a failed job keeps."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pythonjsonlogger.json import JsonFormatter

from tests.webapp.job_rows import training_job
from webapp import logs
from webapp.jobs import runner
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """A handler on the root logger configured as LOG_FORMAT=json's console."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    spec = dict(settings.LOGGING["formatters"]["json"])
    spec.pop("()")
    handler.setFormatter(JsonFormatter(**spec))
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_event_is_one_json_line_with_the_bound_context(
    json_lines: io.StringIO,
) -> None:
    logs.bind(task_id="task-9")
    try:
        with logs.log_context(job_id="job-1", user_id=7):
            logging.getLogger("studio.test").warning("two\nlines")
        logging.getLogger("studio.test").info("after the job")
    finally:
        logs.bind()
    logging.getLogger("studio.test").info("after the task")
    first, second, third = events(json_lines)
    assert first["message"] == "two\nlines"
    assert (first["level"], first["logger"]) == ("WARNING", "studio.test")
    assert (first["job_id"], first["user_id"], first["task_id"]) == (
        "job-1",
        "7",
        "task-9",
    )
    assert {"time", "process"} <= set(first)
    assert second["task_id"] == "task-9"
    assert "job_id" not in second
    assert not {"job_id", "user_id", "task_id"} & set(third)


def test_a_request_names_its_user_once_authenticated(
    json_lines: io.StringIO, owner: User
) -> None:
    log = logging.getLogger("studio.test")

    def view(request: HttpRequest) -> HttpResponse:
        log.info("before authentication")
        request.user = owner
        log.info("after authentication")
        return HttpResponse()

    logs.LogContextMiddleware(view)(HttpRequest())
    log.info("after the request")
    before, after, outside = events(json_lines)
    assert "user_id" not in before
    assert after["user_id"] == str(owner.pk)
    assert "user_id" not in outside


def test_an_api_request_names_its_token_user(
    json_lines: io.StringIO, owner: User, dispatched: Any
) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=owner)
    response = Client().post(
        "/api/v1/training-runs",
        {"preset": "preview"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    created = [e for e in events(json_lines) if e["message"].startswith("Job ")]
    assert created == [
        {
            **created[0],
            "message": f"Job {job.pk} created (training)",
            "job_id": str(job.pk),
            "task_id": job.celery_task_id,
            "user_id": str(owner.pk),
        }
    ]


def test_a_failed_job_keeps_its_last_log_lines(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)
    other = logging.getLogger("studio.elsewhere")

    def broken(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        callback("loading", 0.0)
        with logs.log_context(job_id="another-job"):
            other.warning("a line of another job")
        logging.getLogger("generator.test").warning("the data looks odd")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "train_model", broken)
    with pytest.raises(RuntimeError):
        runner.run_training_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    tail = job.log_tail
    assert f"Job {job.pk} claimed (attempt 1)" in tail
    assert f"Job {job.pk}: loading" in tail
    assert "WARNING generator.test: the data looks odd" in tail
    assert f"ERROR webapp.jobs.runner: Job {job.pk} failed" in tail
    assert "RuntimeError: disk on fire" in tail  # the traceback
    assert "another job" not in tail


def test_a_job_fails_and_keeps_its_log_lines_in_one_write(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that sees "failed" must see the lines too: no write of the state
    # first and of the lines after it.
    job = training_job(owner)

    def broken(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "train_model", broken)
    with CaptureQueriesContext(connection) as queries, pytest.raises(RuntimeError):
        runner.run_training_job(job.pk)

    job_table = Job._meta.db_table
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(f'UPDATE "{job_table}"')
        and ("log_tail" in q["sql"] or "'failed'" in q["sql"])
    ]
    assert len(writes) == 1, writes
    assert "log_tail" in writes[0]
    assert "'failed'" in writes[0]


def test_the_log_tail_keeps_the_last_twenty_lines(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)

    def chatty(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        for index in range(50):
            logging.getLogger("generator.test").warning("step %s", index)
        raise RuntimeError("gave up")

    monkeypatch.setattr(runner, "train_model", chatty)
    with pytest.raises(RuntimeError):
        runner.run_training_job(job.pk)
    job.refresh_from_db()
    steps = re.findall(r"step (\d+)", job.log_tail)
    # 20 records: the last 19 steps, then the failure with its traceback.
    assert steps == [str(index) for index in range(31, 50)]
    assert f"Job {job.pk} failed" in job.log_tail
    assert "claimed (attempt" not in job.log_tail


def test_a_succeeded_job_keeps_no_log_tail(owner: User) -> None:
    job = training_job(owner)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN
    job.refresh_from_db()
    assert (job.state, job.log_tail) == (Job.State.SUCCEEDED, "")


def test_the_log_tail_text_is_bounded_from_the_start() -> None:
    log = logs.JobLog("job-1", lines=3)
    with logs.log_context(job_id="job-1"):
        for word in ("alpha", "beta", "gamma", "delta"):
            log.handle(logging.makeLogRecord({"msg": word, "levelname": "INFO"}))
    assert [line.rsplit(" ", 1)[-1] for line in log.records] == [
        "beta",
        "gamma",
        "delta",
    ]
    assert log.text(12).startswith("…")
    assert len(log.text(12)) == 12
    assert log.text(10_000).endswith("delta")
