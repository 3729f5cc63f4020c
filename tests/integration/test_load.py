"""Load over loopback against gunicorn and Celery workers (bench/load.py's driver):
a burst of 200 generation jobs from 20 users, then 50 clients polling job status.

The figures (latency, throughput) are the benchmark's business; this checks the
outcomes: every submission accepted, every job run exactly once with exactly one
gallery, no 5xx, no error while polling, all within a deadline (no deadlock).
LOAD_TEST_SECONDS sets how long the clients poll (default 5; the benchmark's 30).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from bench.load import (
    free_port,
    poll_for,
    running,
    submit_all,
    wait_finished,
    wait_until_up,
    web_server_command,
)
from tests.integration.integration_support import WorkerProcess, running_worker
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs.models import Job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

USERS = 20
JOBS_PER_USER = 10
IMAGES = 3
CLIENTS = 50
POLL_SECONDS = float(os.environ.get("LOAD_TEST_SECONDS", "5"))


@pytest.fixture
def web_server(process_env: dict[str, str]) -> Iterator[str]:
    """gunicorn (2 processes x 4 threads) on the test database and Redis."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running([web_server_command(port, workers=2, threads=4)], process_env):
        wait_until_up(base_url, timeout=60)
        yield base_url


@pytest.fixture
def two_process_worker(
    process_env: dict[str, str], tmp_path: Path
) -> Iterator[WorkerProcess]:
    """A worker with two pool processes, so that jobs are claimed concurrently."""
    with running_worker(
        process_env,
        tmp_path / "worker.log",
        hostname=f"load-{os.getpid()}@%h",
        concurrency=2,
    ) as worker:
        yield worker


def test_a_burst_of_200_generations_then_50_clients_polling(
    web_server: str, two_process_worker: WorkerProcess, make_model_version: Any
) -> None:
    tokens = [
        Token.objects.create(user=User.objects.create_user(f"load{index}")).key
        for index in range(USERS)
    ]
    demo = make_model_version(User.objects.create_user("demo-owner"), is_public=True)
    body = {"model_version": demo.pk, "n_images": IMAGES, "seed": 7}

    submissions, _ = submit_all(web_server, tokens, JOBS_PER_USER, body)
    statuses = [submission.answer.status for submission in submissions]
    assert statuses == [202] * USERS * JOBS_PER_USER
    job_ids = [submission.job_id for submission in submissions]
    assert len(set(job_ids)) == USERS * JOBS_PER_USER

    targets = [(s.token, s.job_id) for s in submissions if s.job_id]
    try:
        finished = wait_finished(web_server, targets, timeout=600)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{two_process_worker.tail()}") from None
    assert {job["state"] for job in finished.values()} == {"succeeded"}

    # Exactly once: one claim each, one gallery each with all its images.
    jobs = Job.objects.filter(pk__in=job_ids)
    assert set(jobs.values_list("attempts", flat=True)) == {1}
    galleries = Gallery.objects.filter(job__in=job_ids)
    assert galleries.count() == len(job_ids)
    assert {str(pk) for pk in galleries.values_list("job_id", flat=True)} == set(
        job_ids
    )
    assert GeneratedImage.objects.filter(gallery__in=galleries).count() == (
        len(job_ids) * IMAGES
    )
    for job in finished.values():
        assert job["gallery"] is not None

    polled = poll_for(
        web_server,
        [(token, f"/api/v1/jobs/{job_id}") for token, job_id in targets],
        clients=CLIENTS,
        seconds=POLL_SECONDS,
    )
    assert polled.errors == []
    assert polled.requests >= CLIENTS
