"""Helpers shared by the integration and browser tests and their fixtures.

Both run the real stack: a ``celery -A worker worker`` subprocess on pytest-django's
test database (PostgreSQL) and a dedicated Redis database, with this process's
producer and cache pointed at that Redis database too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from bench.load import free_port

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    log: WorkerProcess | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n--- worker log ---\n{log.tail()}" if log is not None else ""
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}{tail}"
            )
        time.sleep(interval)


# The biggest training the digits data set allows (about a second); tests that
# catch a training mid-run use it.
BIG_TRAINING_SETTINGS = {
    "dataset": "digits",
    "n_components": 64,
    "bandwidth": "cv",
    "bandwidth_grid": {"start": 0.05, "stop": 20.0, "num": 50},
    "cv_folds": 10,
    "n_train": 1437,
    "class_conditional": False,
}


@dataclass
class WorkerProcess:
    """A running Celery worker (or beat) subprocess and its log file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def pool_children(self) -> list[int]:
        """Pids of the prefork pool processes (children of the main process)."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Fields after the parenthesised command: state, ppid, ...
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid:
                children.append(int(entry.name))
        return children

    def signal_children(self, signum: int) -> list[int]:
        children = self.pool_children()
        for pid in children:
            os.kill(pid, signum)
        return children


def catch_running(
    submit: Callable[[], str], worker: WorkerProcess, signum: int
) -> tuple[str, list[int]]:
    """Queue a job (``submit`` returns its id) and send ``signum`` to the worker's
    pool once it is running.

    Returns the job id and the signalled pids. A job can finish between being seen
    running and the signal; then the attempt is repeated with a new job.
    """
    from webapp.jobs.models import Job

    for _ in range(3):
        job_id = submit()
        started = Job.objects.filter(pk=job_id).exclude(state=Job.State.QUEUED)
        wait_for(
            started.exists,
            timeout=60,
            interval=0.005,
            what=f"job {job_id} to start",
            log=worker,
        )
        pids = worker.signal_children(signum)
        assert pids, worker.tail()
        if Job.objects.get(pk=job_id).state == Job.State.RUNNING:
            return job_id, pids
        if signum == signal.SIGSTOP:
            worker.signal_children(signal.SIGCONT)
    raise AssertionError("the job finished before it could be caught")


@dataclass
class Api:
    """A tiny JSON client for the live server."""

    base_url: str
    token: str | None = None
    default_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: Any = None, *, raw: bool = False
    ) -> tuple[int, Any]:
        url = path if path.startswith("http") else self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, content = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        if raw:
            return status, content
        return status, json.loads(content) if content else None

    def get(self, path: str, *, raw: bool = False) -> tuple[int, Any]:
        return self.request("GET", path, raw=raw)

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.request("POST", path, {} if body is None else body)


# --- Users and jobs through the API ---------------------------------------------------

PASSWORD = "integration-password-73"
FINISHED = ("succeeded", "failed", "cancelled")

# Tests catch it mid-run to cancel it or kill its worker.
BIG_TRAINING = {"name": "big", **BIG_TRAINING_SETTINGS}


def sign_up(api: Api, username: str) -> Api:
    """Register ``username`` and make ``api`` use its token."""
    status, body = api.post(
        "/api/v1/auth/register", {"username": username, "password": PASSWORD}
    )
    assert status == 201, body
    api.token = body["token"]
    return api


def wait_finished(api: Api, job_id: str, *workers: WorkerProcess) -> dict[str, Any]:
    """Poll the job until it has ended; on a timeout, show the workers' logs."""

    def finished() -> dict[str, Any] | None:
        status, job = api.get(f"/api/v1/jobs/{job_id}")
        assert status == 200, job
        return job if job["state"] in FINISHED else None

    try:
        return wait_for(finished, timeout=120, what=f"job {job_id} to finish")
    except AssertionError as error:
        logs = "\n".join(f"--- {w.log_path} ---\n{w.tail()}" for w in workers)
        raise AssertionError(f"{error}\n{logs}") from None


# --- Redis and PostgreSQL for the subprocesses --------------------------------------


@dataclass(frozen=True)
class RedisDatabases:
    """A broker database and a cache database (apart, as in production)."""

    broker_url: str
    cache_url: str


@contextmanager
def flushed_test_redis(who: str) -> Iterator[RedisDatabases]:
    """The test Redis databases, flushed before and after.

    The broker: TEST_REDIS_URL, or database 15 of the configured REDIS_URL's
    server; the cache: TEST_CACHE_URL, or the configured CACHE_URL unless it is
    one of the tests' brokers (this one and `second_redis_url`), then the highest
    other database of the broker's server. Skips the ``who`` tests when Redis does
    not answer.
    """
    from django.conf import settings

    configured = urlsplit(settings.REDIS_URL)
    url = os.environ.get("TEST_REDIS_URL") or urlunsplit(
        configured._replace(path="/15")
    )
    taken = {url, second_redis_url(url)}
    explicit = os.environ.get("TEST_CACHE_URL")
    candidates = (
        [explicit]
        if explicit
        else [
            settings.CACHE_URL,
            *(
                urlunsplit(urlsplit(url)._replace(path=f"/{n}"))
                for n in range(15, -1, -1)
            ),
        ]
    )
    cache_url = next((each for each in candidates if each not in taken), None)
    if cache_url is None:
        raise pytest.UsageError(
            f"TEST_CACHE_URL={explicit} is one of the tests' brokers "
            f"{sorted(taken)}: set it to another Redis database."
        )
    with flushed_redis(url, who), flushed_redis(cache_url, who):
        yield RedisDatabases(broker_url=url, cache_url=cache_url)


def second_redis_url(first: str) -> str:
    """TEST_SECOND_REDIS_URL, or the database below ``first``'s on its server."""
    parts = urlsplit(first)
    number = int(parts.path.strip("/") or 0)
    return os.environ.get("TEST_SECOND_REDIS_URL") or urlunsplit(
        parts._replace(path=f"/{number - 1 if number else 1}")
    )


@contextmanager
def flushed_redis(url: str, who: str) -> Iterator[str]:
    """``url``, a Redis database flushed before and after; skips the ``who`` tests
    when it does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"{who} tests need Redis at {url}: {error}")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def subprocess_database_url(who: str) -> str:
    """A ``postgres://`` URL of pytest-django's test database, for a subprocess.

    Call it once the test database exists (from a fixture that requests
    ``django_db_setup``); skips the ``who`` tests on anything but PostgreSQL.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            f"{who} tests need PostgreSQL (set DATABASE_URL=postgres://...): "
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


def process_environment(
    *, database_url: str, redis: RedisDatabases, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of a worker or beat subprocess on the test database and Redis."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.broker_url,
        "CACHE_URL": redis.cache_url,
        "DATA_DIR": str(data_dir),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "LOG_LEVEL": "INFO",
        # The start-up classifier fit, on the data set the tests train on (MNIST
        # is not in a test's data directory).
        "EVALUATION_PREPARE_DATASETS": "digits",
        **extra,
    }


class RedisServer:
    """A private ``redis-server`` on a free port, for tests that stop or empty it.

    No persistence: a restart comes back empty, as a Redis without its append-only
    file does.
    """

    def __init__(self, directory: Path) -> None:
        import shutil

        executable = shutil.which("redis-server")
        if executable is None:
            pytest.skip("these tests need redis-server on PATH")
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    @property
    def databases(self) -> RedisDatabases:
        """Broker on database 0, cache on 1: the production defaults."""
        return RedisDatabases(broker_url=self.url(0), cache_url=self.url(1))

    def client(self, database: int = 0) -> Any:
        import redis

        return redis.Redis.from_url(self.url(database), socket_connect_timeout=2)

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        argv = [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self._answers, timeout=20, what="redis-server to start")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart_empty(self) -> None:
        self.stop()
        self.start()


# --- Celery subprocesses --------------------------------------------------------------


def start_celery(
    arguments: list[str], env: dict[str, str], log_path: Path, *, cwd: Path = REPO
) -> WorkerProcess:
    """``celery -A worker <arguments>`` in its own session, logging to ``log_path``."""
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", *arguments],
        cwd=cwd,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file.close()
    return WorkerProcess(process=process, log_path=log_path)


def stop_celery(worker: WorkerProcess) -> None:
    """Terminate a process from ``start_celery``; kill its session if it lingers."""
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # Its own session: this reaches only the processes start_celery started.
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)


@contextmanager
def running_worker(
    env: dict[str, str],
    log_path: Path,
    *,
    hostname: str,
    concurrency: int = 1,
    queues: str = "training,generation,maintenance",
    cwd: Path = REPO,
) -> Iterator[WorkerProcess]:
    """One worker, by default for both job queues and the sweeper's and one job at
    a time (so a second job waits).

    Ready when the block starts, stopped when it ends.
    """
    worker = start_celery(
        [
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            hostname,
        ],
        env,
        log_path,
        cwd=cwd,
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
        stop_celery(worker)


# --- This process's producer and cache ------------------------------------------------


def connect_producer(app: Any, url: str) -> None:
    """Make the app publish to ``url``, dropping every connection pooled for another.

    Django settings were read before any fixture ran, possibly with another
    REDIS_URL; the Celery app takes the broker URL when it opens its connection
    pool, so the pool goes along with the URL. kombu also keeps process-wide
    producer pools keyed by broker URL: closing only the app's pool would leave one
    that a later user of the same URL gets back, closed.
    """
    from kombu import pools

    app.conf.broker_url = url
    pool = app._pool
    if pool is not None:
        pool.force_close_all()
    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def producer_and_cache_on(redis: RedisDatabases, *, key_prefix: str) -> Iterator[None]:
    """This process's Celery producer and Django cache on ``redis``, restored
    (with no pooled connection left) when the block ends."""
    from django.test import override_settings

    from webapp.jobs.dispatch import app

    previous = app.conf.broker_url
    connect_producer(app, redis.broker_url)
    caches = override_settings(
        CACHES={
            "default": {
                "BACKEND": "webapp.cache.RedisCache",
                "LOCATION": redis.cache_url,
                "KEY_PREFIX": key_prefix,
            }
        }
    )
    caches.enable()
    try:
        yield
    finally:
        caches.disable()
        connect_producer(app, previous)
