"""Real processes for the integration tests: PostgreSQL, Redis, Celery.

The worker is a ``celery -A worker worker`` subprocess pointed at pytest-django's
test database (``test_<name>``) and at a dedicated Redis database (15 unless
TEST_REDIS_URL says otherwise) with the cache on another one (TEST_CACHE_URL, or
CACHE_URL), both flushed before and after the session.
Tests use ``live_server`` with ``transactional_db``, so rows are committed and the
worker sees them, and jobs reach it through the real broker. The plumbing lives in
integration_support.py, shared with tests/browser.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.integration_support import (
    Api,
    RedisDatabases,
    WorkerProcess,
    flushed_redis,
    flushed_test_redis,
    process_environment,
    producer_and_cache_on,
    running_worker,
    second_redis_url,
    start_celery,
    stop_celery,
    subprocess_database_url,
)


@pytest.fixture(scope="session")
def integration_redis() -> Iterator[RedisDatabases]:
    with flushed_test_redis("integration") as databases:
        yield databases


@pytest.fixture(scope="session")
def worker_database_url(django_db_setup: None) -> str:
    return subprocess_database_url("integration")


@pytest.fixture(scope="session")
def process_env(
    worker_database_url: str,
    integration_redis: RedisDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment of every subprocess: the test database and Redis."""
    return process_environment(
        database_url=worker_database_url,
        redis=integration_redis,
        data_dir=tmp_path_factory.mktemp("worker-data"),
        # Short enough that a crashed worker's job is taken over within seconds.
        JOB_HEARTBEAT_SECONDS="1",
        JOB_STALE_AFTER_SECONDS="3",
        # A worker reads it only to feed in parameter-sweep runs as jobs end; the
        # sweep test lowers the web's to match, so feeding is exercised.
        MAX_ACTIVE_TRAINING_JOBS="1",
    )


@pytest.fixture(scope="session")
def celery_worker(
    process_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for both queues, one job at a time (so a second job waits)."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with running_worker(
        process_env, log_path, hostname=f"pytest-{os.getpid()}@%h"
    ) as worker:
        yield worker


# Per test: a beat left running would sweep the shared database for the tests
# after it and requeue their stale jobs onto its own broker.
@pytest.fixture
def start_beat(
    process_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[dict[str, str]], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(extra_env: dict[str, str]) -> WorkerProcess:
        log_path = tmp_path_factory.mktemp("beat") / "beat.log"
        beat = start_celery(
            ["beat", "--loglevel", "INFO"], {**process_env, **extra_env}, log_path
        )
        started.append(beat)
        return beat

    yield start
    for beat in started:
        stop_celery(beat)


@pytest.fixture(scope="session")
def _web_uses_test_redis(integration_redis: RedisDatabases) -> Iterator[None]:
    """Point this process's producer and cache at the test Redis databases."""
    with producer_and_cache_on(integration_redis, key_prefix="studio-test"):
        yield


@pytest.fixture
def api(
    live_server: Any,
    celery_worker: WorkerProcess,
    _web_uses_test_redis: None,
    transactional_db: None,
) -> Callable[[], Api]:
    """A factory of API clients against the live server, with the worker up."""
    return lambda: Api(base_url=live_server.url)


@pytest.fixture
def private_broker(
    integration_redis: RedisDatabases, live_server: Any, transactional_db: None
) -> Iterator[RedisDatabases]:
    """A Redis broker database of this test's own (flushed), for workers it starts
    itself: the session's ``celery_worker`` listens on the shared one and would take
    their jobs. The live server's producer uses it too while the test runs (the
    cache stays the session's)."""
    databases = RedisDatabases(
        broker_url=second_redis_url(integration_redis.broker_url),
        cache_url=integration_redis.cache_url,
    )
    with (
        flushed_redis(databases.broker_url, "private-broker"),
        producer_and_cache_on(databases, key_prefix="studio-private"),
    ):
        yield databases
