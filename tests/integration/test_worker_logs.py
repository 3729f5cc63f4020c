"""A real worker with LOG_FORMAT=json: one JSON event per line, naming the job,
its user and the Celery task; a failed job keeps the worker's last lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.integration_support import (
    Api,
    RedisDatabases,
    WorkerProcess,
    running_worker,
    sign_up,
    wait_finished,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TRAINING = {
    "name": "logged",
    "dataset": "digits",
    "n_components": 8,
    "bandwidth": 0.8,
    "n_train": 300,
    "class_conditional": True,
}


def json_events(worker: WorkerProcess) -> list[dict[str, Any]]:
    """Every line that starts an object must be one whole JSON event."""
    events = []
    for line in worker.log().splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            assert isinstance(event, dict)
            events.append(event)
    return events


def test_json_events_name_the_job_user_and_task_and_a_failure_keeps_its_lines(
    live_server: Any,
    private_broker: RedisDatabases,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from django.contrib.auth.models import User

    from webapp.jobs.models import Job, ModelVersion

    # The session's settings (heartbeat timings the other tests' sweeper agrees
    # with), on this test's own broker.
    env = {
        **process_env,
        "REDIS_URL": private_broker.broker_url,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_FORMAT": "json",
    }
    with running_worker(env, tmp_path / "worker.log", hostname="json@%h") as worker:
        api = sign_up(Api(base_url=live_server.url), "logan")
        user_id = str(User.objects.get(username="logan").pk)

        status, job = api.post("/api/v1/training-runs", TRAINING)
        assert status == 202, job
        trained = wait_finished(api, job["id"], worker)
        assert trained["state"] == "succeeded", trained
        assert trained["log_tail"] == ""

        # A model file damaged after training: the generation fails on the worker.
        ModelVersion.objects.filter(pk=trained["model_version"]).update(
            model_file=b"not a model"
        )
        status, job = api.post(
            "/api/v1/generations",
            {"model_version": trained["model_version"], "n_images": 2, "seed": 1},
        )
        assert status == 202, job
        failed = wait_finished(api, job["id"], worker)
        assert failed["state"] == "failed", failed

    events = json_events(worker)
    assert len(events) > 10, worker.tail()
    incomplete = [
        e for e in events if not {"time", "level", "logger", "message"} <= set(e)
    ]
    assert incomplete == []
    for job in (trained, failed):
        task_id = Job.objects.get(pk=job["id"]).celery_task_id
        mine = [e for e in events if e.get("job_id") == job["id"]]
        messages = [e["message"] for e in mine]
        assert f"Job {job['id']} claimed (attempt 1)" in messages, messages
        assert all(e["user_id"] == user_id for e in mine), mine
        assert all(e["task_id"] == task_id for e in mine), mine
        # Celery's own line on how the task ended carries its id too.
        assert any(
            e.get("task_id") == task_id and e["logger"] == "celery.app.trace"
            for e in events
        ), [e for e in events if e["logger"] == "celery.app.trace"]
    errors = {
        e["message"]: e
        for e in events
        if e.get("job_id") == failed["id"] and e["level"] == "ERROR"
    }
    assert "checksum" in errors[f"Job {failed['id']} failed"]["exc_info"]

    tail = failed["log_tail"].splitlines()
    assert f"Job {failed['id']} claimed (attempt 1)" in failed["log_tail"]
    assert f"Job {failed['id']}: loading" in failed["log_tail"]
    assert f"ERROR webapp.jobs.runner: Job {failed['id']} failed" in failed["log_tail"]
    assert "checksum" in tail[-1]
    assert trained["id"] not in failed["log_tail"]
