"""Real processes for the integration tests: PostgreSQL, Redis, Celery.

The worker is a ``celery -A worker worker`` subprocess pointed at pytest-django's
test database (``test_<name>``) and at a dedicated Redis database (15 unless
TEST_REDIS_URL says otherwise), which is flushed before and after the session.
Tests use ``live_server`` with ``transactional_db``, so rows are committed and the
worker sees them, and jobs reach it through the real broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from integration_support import Api, WorkerProcess, wait_for

REPO = Path(__file__).resolve().parents[2]


def _start(arguments: list[str], env: dict[str, str], log_path: Path) -> WorkerProcess:
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", *arguments],
        cwd=REPO,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file.close()
    return WorkerProcess(process=process, log_path=log_path)


def _stop(worker: WorkerProcess) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # Its own session: this reaches only the processes this fixture started.
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)


@pytest.fixture(scope="session")
def integration_redis_url() -> Iterator[str]:
    import redis
    from django.conf import settings

    configured = urlsplit(settings.REDIS_URL)
    url = os.environ.get("TEST_REDIS_URL") or urlunsplit(
        configured._replace(path="/15")
    )
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"integration tests need Redis at {url}: {error}")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def worker_database_url(django_db_setup: None) -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "integration tests need PostgreSQL (set DATABASE_URL=postgres://...): "
            "the worker is another process and cannot share an in-memory SQLite"
        )
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"])
    return (
        f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


@pytest.fixture(scope="session")
def process_env(
    worker_database_url: str,
    integration_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment of every subprocess: the test database and Redis."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": worker_database_url,
        "REDIS_URL": integration_redis_url,
        "DATA_DIR": str(tmp_path_factory.mktemp("worker-data")),
        # Short enough that a crashed worker's job is taken over within seconds.
        "JOB_HEARTBEAT_SECONDS": "1",
        "JOB_STALE_AFTER_SECONDS": "3",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def celery_worker(
    process_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for both queues, one job at a time (so a second job waits)."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = _start(
        [
            "worker",
            "-Q",
            "training,generation",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"pytest-{os.getpid()}@%h",
        ],
        process_env,
        log_path,
    )
    try:
        wait_for(
            lambda: " ready." in worker.log() or worker.process.poll() is not None,
            timeout=60,
            what="the Celery worker to start",
            log=worker,
        )
        assert worker.process.poll() is None, worker.tail()
        yield worker
    finally:
        _stop(worker)


@pytest.fixture(scope="session")
def start_beat(
    process_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[dict[str, str]], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(extra_env: dict[str, str]) -> WorkerProcess:
        log_path = tmp_path_factory.mktemp("beat") / "beat.log"
        beat = _start(
            ["beat", "--loglevel", "INFO"], {**process_env, **extra_env}, log_path
        )
        started.append(beat)
        return beat

    yield start
    for beat in started:
        _stop(beat)


@pytest.fixture(scope="session")
def _web_uses_test_redis(integration_redis_url: str) -> Iterator[None]:
    """Point this process's producer and cache at the test Redis database.

    Django settings were read before any fixture ran, possibly with another
    REDIS_URL; the Celery app takes the broker URL when it opens its connection
    pool, so the pool is replaced along with the URL.
    """
    from django.test import override_settings

    from worker import app

    previous = app.conf.broker_url
    _connect_producer(app, integration_redis_url)
    caches = override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": integration_redis_url,
                "KEY_PREFIX": "studio-test",
            }
        }
    )
    caches.enable()
    yield
    caches.disable()
    _connect_producer(app, previous)


def _connect_producer(app: Any, url: str) -> None:
    """Make the app publish to ``url``, dropping connections pooled for another."""
    app.conf.broker_url = url
    pool = app._pool
    if pool is not None:
        pool.force_close_all()
        app._pool = None
        amqp = app.__dict__.get("amqp")
        if amqp is not None:
            amqp._producer_pool = None


@pytest.fixture
def api(
    live_server: Any,
    celery_worker: WorkerProcess,
    _web_uses_test_redis: None,
    transactional_db: None,
) -> Callable[[], Api]:
    """A factory of API clients against the live server, with the worker up."""
    return lambda: Api(base_url=live_server.url)
