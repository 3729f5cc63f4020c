"""No job left behind: faults of the broker and the web process, with real
PostgreSQL, a private ``redis-server`` and Celery worker and beat processes.

Each test has its own Redis server (so it can empty or stop it without touching
the session's worker) and starts its own worker and beat on it with short timings:
heartbeats every second, stale after 3 s, a sweep every second, a queued job sent
again after 2 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.db.models.functions import Now

from tests.integration.integration_support import (
    BIG_TRAINING_SETTINGS,
    REPO,
    RedisServer,
    WorkerProcess,
    catch_running,
    process_environment,
    producer_and_cache_on,
    running_worker,
    start_celery,
    stop_celery,
    wait_for,
)
from webapp.gallery.models import Gallery
from webapp.jobs import maintenance, services
from webapp.jobs.models import Job, ModelVersion

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GRACE_SECONDS = 2
FINISHED = (Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fault_env(
    worker_database_url: str, redis_server: RedisServer, tmp_path: Path
) -> dict[str, str]:
    return process_environment(
        database_url=worker_database_url,
        redis=redis_server.databases,
        data_dir=tmp_path / "data",
        JOB_HEARTBEAT_SECONDS="1",
        JOB_STALE_AFTER_SECONDS="3",
        JOB_SWEEP_INTERVAL_SECONDS="1",
        JOB_QUEUED_GRACE_SECONDS=str(GRACE_SECONDS),
        GALLERY_EVALUATION="0",
    )


@pytest.fixture
def producer(redis_server: RedisServer) -> Iterator[None]:
    """This process sends jobs to the private Redis."""
    with producer_and_cache_on(redis_server.databases, key_prefix="studio-faults"):
        yield


@pytest.fixture
def start_stack(
    fault_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a worker (and beat, unless told not to); all stop when the test ends."""
    with ExitStack() as stack:
        started = 0

        def start(
            *,
            beat: bool = True,
            queues: str = "training,generation,maintenance",
            **env: str,
        ) -> WorkerProcess:
            nonlocal started
            started += 1
            log_dir = tmp_path / f"stack-{started}"
            log_dir.mkdir()
            environment = {**fault_env, **env}
            worker = stack.enter_context(
                running_worker(
                    environment,
                    log_dir / "worker.log",
                    hostname=f"faults-{os.getpid()}-{started}@%h",
                    queues=queues,
                )
            )
            if beat:
                process = start_celery(
                    ["beat", "--loglevel", "INFO"], environment, log_dir / "beat.log"
                )
                stack.callback(stop_celery, process)
            return worker

        yield start


@pytest.fixture
def generations(
    owner: User, make_model_version: Any, producer: None
) -> Callable[..., list[Job]]:
    """Queue ``n`` generation jobs (sent to the private Redis)."""
    model_version = make_model_version(owner)

    def queue(n: int, *, n_images: int = 2) -> list[Job]:
        return [
            services.create_generation_job(
                owner, model_version=model_version, n_images=n_images
            )
            for _ in range(n)
        ]

    return queue


@pytest.fixture
def big_training(owner: User, producer: None) -> Callable[[], str]:
    """Queue a training that takes about a second; returns its id."""
    training_settings = services.validate_training_settings(BIG_TRAINING_SETTINGS)

    def queue() -> str:
        job = services.create_training_job(
            owner, training_settings=training_settings, name="big"
        )
        return str(job.pk)

    return queue


def wait_all_finished(jobs: list[Job], worker: WorkerProcess) -> list[Job]:
    ids = [job.pk for job in jobs]

    def finished() -> list[Job] | None:
        rows = list(Job.objects.filter(pk__in=ids, state__in=FINISHED))
        return rows if len(rows) == len(ids) else None

    return wait_for(
        finished, timeout=120, interval=0.2, what="every job to finish", log=worker
    )


def assert_each_ran_once(jobs: list[Job], worker: WorkerProcess) -> None:
    finished = wait_all_finished(jobs, worker)
    assert {(job.state, job.attempts) for job in finished} == {
        (Job.State.SUCCEEDED, 1)
    }, [(job.state, job.error) for job in finished]
    for job in jobs:
        assert Gallery.objects.filter(job=job).count() == 1


def wait_overdue(jobs: list[Job]) -> None:
    """Until the jobs were last sent longer ago than the grace period."""
    overdue = Job.objects.filter(
        pk__in=[job.pk for job in jobs],
        dispatched_at__lt=Now() - timedelta(seconds=GRACE_SECONDS),
    )
    wait_for(
        lambda: overdue.count() == len(jobs),
        timeout=30,
        interval=0.2,
        what="the grace period",
    )


def test_jobs_whose_queue_was_deleted_are_sent_again_and_run_once(
    redis_server: RedisServer,
    generations: Callable[..., list[Job]],
    start_stack: Callable[..., WorkerProcess],
    settings: Any,
) -> None:
    jobs = generations(4)
    broker = redis_server.client()
    assert broker.llen("generation") == 4

    # Waiting behind others is not lost: past the grace period nothing is resent.
    settings.JOB_QUEUED_GRACE_SECONDS = GRACE_SECONDS
    wait_overdue(jobs)
    assert maintenance.redispatch_lost_jobs() == 0
    assert broker.llen("generation") == 4

    broker.delete("generation")
    worker = start_stack()
    assert_each_ran_once(jobs, worker)
    for job in jobs:
        assert f"Job {job.pk} claimed (attempt 1)" in worker.log()


def test_jobs_lost_by_a_redis_restarted_empty_run_once(
    redis_server: RedisServer,
    generations: Callable[..., list[Job]],
    start_stack: Callable[..., WorkerProcess],
) -> None:
    jobs = generations(3)
    redis_server.restart_empty()
    assert redis_server.client().dbsize() == 0

    worker = start_stack()
    assert_each_ran_once(jobs, worker)


# Creates a generation job as the web does, and dies (SIGKILL) once the row is
# committed, before the message leaves for the broker.
DIE_BEFORE_PUBLISHING = """
import os, signal, sys
import django
django.setup()
from django.contrib.auth.models import User
from webapp.jobs import dispatch, services
from webapp.jobs.models import ModelVersion
dispatch.generate = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
services.create_generation_job(
    User.objects.get(pk=int(sys.argv[1])),
    model_version=ModelVersion.objects.get(pk=int(sys.argv[2])),
    n_images=2,
)
"""


def test_a_job_whose_web_process_died_before_publishing_runs_once(
    redis_server: RedisServer,
    fault_env: dict[str, str],
    owner: User,
    make_model_version: Any,
    start_stack: Callable[..., WorkerProcess],
) -> None:
    model_version = make_model_version(owner)
    command = [sys.executable, "-c", DIE_BEFORE_PUBLISHING]
    died = subprocess.run(
        [*command, str(owner.pk), str(model_version.pk)],
        env=fault_env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert died.returncode == -signal.SIGKILL
    (job,) = Job.objects.filter(owner=owner)
    assert job.state == Job.State.QUEUED
    assert redis_server.client().llen("generation") == 0

    worker = start_stack()
    assert_each_ran_once([job], worker)


def test_clearing_the_cache_drops_no_queued_job(
    redis_server: RedisServer,
    generations: Callable[..., list[Job]],
    start_stack: Callable[..., WorkerProcess],
) -> None:
    from django.conf import settings
    from django.core.cache import cache

    jobs = generations(3)
    cache.set("throttle-count", 5)
    cache_database = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert cache_database.dbsize() == 1
    cache_database.flushdb()
    assert cache.get("throttle-count") is None
    assert redis_server.client().llen("generation") == 3

    # No beat, so no sweeper to send anything again: the messages themselves ran.
    worker = start_stack(beat=False)
    assert_each_ran_once(jobs, worker)


def test_the_job_of_a_worker_killed_outright_is_swept_back_and_runs_once(
    big_training: Callable[[], str], start_stack: Callable[..., WorkerProcess]
) -> None:
    victim = start_stack(beat=False, queues="training")
    job_id, _ = catch_running(big_training, victim, signal.SIGSTOP)
    # The whole worker, leader and pool: nobody is left to requeue its message,
    # which Redis would only hand out again after the (two-hour) visibility timeout.
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)

    rescuer = start_stack()
    (job,) = wait_all_finished([Job(pk=job_id)], rescuer)
    assert (job.state, job.attempts) == (Job.State.SUCCEEDED, 2), job.error
    assert ModelVersion.objects.filter(training_job_id=job_id).count() == 1
    assert "Swept stale jobs: 1 requeued" in rescuer.log()


def test_a_graceful_stop_finishes_a_generation_and_hands_a_training_back(
    redis_server: RedisServer,
    big_training: Callable[[], str],
    generations: Callable[..., list[Job]],
    start_stack: Callable[..., WorkerProcess],
) -> None:
    trainer = start_stack(beat=False, queues="training,maintenance")
    generator = start_stack(beat=False, queues="generation,maintenance")
    training_id, _ = catch_running(big_training, trainer, signal.SIGSTOP)
    generation_id, _ = catch_running(
        lambda: str(generations(1, n_images=256)[0].pk), generator, signal.SIGSTOP
    )

    # SIGTERM to each leader (what docker stop does) while their jobs are mid-run.
    trainer.process.terminate()
    generator.process.terminate()
    asked = Job.objects.filter(pk=training_id, requeue_requested=True)
    wait_for(asked.exists, timeout=30, what="the training to be asked back")
    wait_for(
        lambda: "Warm shutdown" in generator.log(),
        timeout=30,
        what="the warm shutdown",
        log=generator,
    )
    for worker in (trainer, generator):
        worker.signal_children(signal.SIGCONT)
    for worker in (trainer, generator):
        wait_for(
            lambda worker=worker: worker.process.poll() is not None,
            timeout=60,
            what="the worker to stop",
            log=worker,
        )

    generation = Job.objects.get(pk=generation_id)
    assert (generation.state, generation.attempts) == (Job.State.SUCCEEDED, 1)
    assert Gallery.objects.filter(job=generation).count() == 1
    training = Job.objects.get(pk=training_id)
    assert (training.state, training.attempts) == (Job.State.QUEUED, 0)
    assert redis_server.client().llen("training") == 1

    # No sweeper: the training was sent again when it was handed back.
    rescuer = start_stack(beat=False)
    (training,) = wait_all_finished([training], rescuer)
    assert (training.state, training.attempts) == (Job.State.SUCCEEDED, 1)
    assert ModelVersion.objects.filter(training_job_id=training_id).count() == 1


def test_a_job_killed_at_its_hard_time_limit_fails_at_once_and_is_not_retried(
    redis_server: RedisServer,
    generations: Callable[..., list[Job]],
    start_stack: Callable[..., WorkerProcess],
) -> None:
    worker = start_stack(GENERATION_TIME_LIMIT="10", GENERATION_HARD_TIME_LIMIT="11")
    # Stopped, its process cannot heed the soft limit: only the hard one ends it.
    job_id, _ = catch_running(
        lambda: str(generations(1, n_images=256)[0].pk), worker, signal.SIGSTOP
    )
    failed = Job.objects.filter(pk=job_id, state=Job.State.FAILED)
    wait_for(failed.exists, timeout=60, what="the job to fail", log=worker)

    job = failed.get()
    assert job.attempts == 1
    assert "hard time limit (11 s)" in job.error
    assert not Gallery.objects.filter(job=job).exists()
    assert "Hard time limit (11s) exceeded" in worker.log()
    # Its message is acknowledged and nothing runs it again.
    broker = redis_server.client()
    wait_for(
        lambda: (broker.llen("generation"), broker.hlen("unacked")) == (0, 0),
        timeout=30,
        what="the message to be acknowledged",
        log=worker,
    )
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.FAILED, 1)


def test_submitting_while_redis_is_down_tells_the_truth_and_the_job_runs_later(
    redis_server: RedisServer,
    owner: User,
    make_model_version: Any,
    producer: None,
    start_stack: Callable[..., WorkerProcess],
) -> None:
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    model_version = make_model_version(owner)
    redis_server.stop()

    api = APIClient()
    # The token endpoint's throttle has no cache to count in: it lets the log-in by.
    response = api.post(
        "/api/v1/auth/token", {"username": "owner", "password": PASSWORD}
    )
    assert response.status_code == 200, response.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    response = api.post(
        "/api/v1/generations", {"model_version": model_version.pk, "n_images": 2}
    )
    assert response.status_code == 202, response.content
    answered = response.json()
    job = Job.objects.get(pk=answered["id"])
    assert answered["state"] == job.state == Job.State.QUEUED
    assert api.get(f"/api/v1/jobs/{job.pk}").json()["state"] == "queued"

    # Redis comes back empty: the sweeper sends the job, which runs once.
    redis_server.start()
    worker = start_stack()
    assert_each_ran_once([job], worker)
