"""Load on the whole stack over loopback: a burst of submissions, then polling.

1. ``--users`` users (20) each submit ``--jobs-per-user`` generation jobs (10) at
   the same moment through the REST API; every job is then followed to its end.
2. ``--clients`` clients (50) poll job status (``GET /api/v1/jobs/{id}``) for
   ``--seconds`` seconds (30); the same clients first poll ``/healthz`` (a
   database ping, no per-user work) for as long, as the baseline of this run.

Prints submission and status latencies (median, p95, max), throughput, and the
status throughput as a fraction of the baseline's. The stack is started here: a
gunicorn (``--web-workers`` processes x ``--web-threads`` threads) and a Celery
worker (``--worker-concurrency``) on DATABASE_URL and REDIS_URL, which must name a
PostgreSQL database and a Redis database this may fill (it migrates the database,
adds users bench-load-*, and leaves them).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/studio_bench \\
    REDIS_URL=redis://127.0.0.1:6379/14 python bench/load.py --seconds 10

tests/integration/test_load.py drives the same functions against its own stack
and checks the outcomes (every job succeeded exactly once, no 5xx, no errors).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: status (0 when no answer came), seconds, JSON body."""

    status: int
    seconds: float
    body: Any


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    timeout: float = 60.0,
) -> Answer:
    """One JSON request; connection errors are answers with status 0."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    except OSError as error:
        return Answer(0, time.perf_counter() - started, str(error))
    seconds = time.perf_counter() - started
    try:
        parsed = json.loads(content) if content else None
    except ValueError:
        parsed = content.decode(errors="replace")
    return Answer(status, seconds, parsed)


@dataclass(frozen=True)
class Submission:
    token: str
    answer: Answer

    @property
    def job_id(self) -> str | None:
        body = self.answer.body
        return body.get("id") if isinstance(body, dict) else None


def submit_all(
    base_url: str, tokens: Sequence[str], jobs_per_user: int, body: dict[str, Any]
) -> tuple[list[Submission], float]:
    """Every user's jobs sent at once (one thread each); the answers and wall time."""
    work = [token for token in tokens for _ in range(jobs_per_user)]
    start = threading.Barrier(len(work))

    def submit(token: str) -> Submission:
        start.wait(timeout=60)
        return Submission(
            token, call(base_url, "POST", "/api/v1/generations", token=token, body=body)
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(len(work)) as pool:
        submissions = list(pool.map(submit, work))
    return submissions, time.perf_counter() - started


def wait_finished(
    base_url: str,
    targets: Sequence[tuple[str, str]],
    *,
    timeout: float,
    threads: int = 8,
) -> dict[str, dict[str, Any]]:
    """Poll each (token, job id) until it has finished; the final job bodies.

    Raises TimeoutError naming the jobs still unfinished after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    finished: dict[str, dict[str, Any]] = {}
    pending = list(targets)
    with ThreadPoolExecutor(threads) as pool:
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} jobs unfinished: {pending[:5]}")
            answers = pool.map(
                lambda target: call(
                    base_url, "GET", f"/api/v1/jobs/{target[1]}", token=target[0]
                ),
                pending,
            )
            still = []
            for target, answer in zip(pending, answers, strict=True):
                body = answer.body
                if isinstance(body, dict) and body.get("state") in FINISHED:
                    finished[target[1]] = body
                else:
                    still.append(target)
            pending = still
            if pending:
                time.sleep(0.2)
    return finished


@dataclass
class PollResult:
    """What ``clients`` clients saw polling for a fixed time."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[tuple[str, int, Any]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.errors)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def poll_for(
    base_url: str,
    targets: Sequence[tuple[str | None, str]],
    *,
    clients: int,
    seconds: float,
) -> PollResult:
    """``clients`` threads GET (token, path) targets round-robin for ``seconds``.

    Any answer but 200 is an error. Bounded by time: each client stops at the
    deadline (a request under way still finishes).
    """
    result = PollResult(seconds=seconds)
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(index: int) -> None:
        start.wait(timeout=60)
        deadline = time.monotonic() + seconds
        turn = index
        while time.monotonic() < deadline:
            token, path = targets[turn % len(targets)]
            turn += 1
            answer = call(base_url, "GET", path, token=token)
            with lock:
                if answer.status == 200:
                    result.latencies.append(answer.seconds)
                else:
                    result.errors.append((path, answer.status, answer.body))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return result


def quantiles(values: Sequence[float]) -> str:
    """``median / p95 / max`` in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return "no samples"
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


# --- The stack (bench only; the test uses its fixtures) -------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def web_server_command(port: int, *, workers: int, threads: int) -> list[str]:
    """gunicorn on 127.0.0.1:port, as the compose file runs it (threads added)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "webapp.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--timeout=120",
        "--log-level=warning",
    ]


def wait_until_up(base_url: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while call(base_url, "GET", "/healthz", timeout=5).status != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base_url} did not answer within {timeout} s")
        time.sleep(0.2)


@contextmanager
def running(
    commands: Sequence[list[str]], env: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes = [
        subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
        for command in commands
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def require_services(parser: argparse.ArgumentParser) -> None:
    """Refuse to run without DATABASE_URL and REDIS_URL; create the database."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            parser.error(f"set {name} (a database and a Redis database to fill)")
    create_database(os.environ["DATABASE_URL"])


def create_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names unless it exists: a fresh
    server has only its ``postgres`` database (Django's migrate needs the
    database itself)."""
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    server = parts._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            )


def prepare(users: int) -> tuple[list[str], Callable[[], int | None]]:
    """Migrate, make the users and their tokens, queue the demo model's training.

    Returns the tokens and a function giving the public model's id once trained.
    """
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from webapp.jobs import maintenance
    from webapp.jobs.models import ModelVersion

    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    tokens = []
    for index in range(users):
        user = User.objects.create_user(f"bench-load-{run}-{index}")
        tokens.append(Token.objects.create(user=user).key)
    maintenance.seed_demo_model(preset="preview")

    def public_model() -> int | None:
        return (
            ModelVersion.objects.filter(is_public=True)
            .values_list("pk", flat=True)
            .first()
        )

    return tokens, public_model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--jobs-per-user", type=int, default=10)
    parser.add_argument("--images", type=int, default=4, help="per generation job")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    require_services(parser)

    tokens, public_model = prepare(args.users)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "OMP_NUM_THREADS": "1",
        # The burst itself is the point: keep the per-user limits out of its way.
        "MAX_ACTIVE_GENERATION_JOBS": str(max(20, args.jobs_per_user)),
    }
    worker = [
        sys.executable, "-m", "celery", "-A", "worker", "worker",
        "-Q", "training,generation", "--loglevel=WARNING",
        f"--concurrency={args.worker_concurrency}",
    ]  # fmt: skip
    web = web_server_command(port, workers=args.web_workers, threads=args.web_threads)
    with running([web, worker], env):
        wait_until_up(base_url, timeout=60)
        deadline = time.monotonic() + args.timeout
        while (model_id := public_model()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the demo model was not trained in time")
            time.sleep(0.5)
        body = {"model_version": model_id, "n_images": args.images, "seed": 1}
        print(
            f"{args.users} users x {args.jobs_per_user} generation jobs "
            f"({args.images} images each); gunicorn {args.web_workers}x"
            f"{args.web_threads} threads, worker concurrency "
            f"{args.worker_concurrency}; {os.cpu_count()} CPUs"
        )
        submissions, submit_seconds = submit_all(
            base_url, tokens, args.jobs_per_user, body
        )
        statuses = statistics.multimode(s.answer.status for s in submissions)
        accepted = [s for s in submissions if s.answer.status == 202]
        print(
            f"submit: {len(accepted)}/{len(submissions)} accepted (most common "
            f"status {statuses}) in {submit_seconds:.2f} s, "
            f"{len(submissions) / submit_seconds:.0f} requests/s; "
            + quantiles([s.answer.seconds for s in submissions])
        )
        targets = [(s.token, s.job_id) for s in accepted if s.job_id]
        started = time.perf_counter()
        finished = wait_finished(base_url, targets, timeout=args.timeout)
        elapsed = submit_seconds + time.perf_counter() - started
        succeeded = sum(job["state"] == "succeeded" for job in finished.values())
        print(
            f"jobs: {succeeded}/{len(targets)} succeeded, all finished "
            f"{elapsed:.1f} s after the burst began: {len(targets) / elapsed:.1f} "
            "jobs/s end to end"
        )
        baseline = poll_for(
            base_url,
            [(None, "/healthz")],
            clients=args.clients,
            seconds=args.seconds,
        )
        status = poll_for(
            base_url,
            [(token, f"/api/v1/jobs/{job_id}") for token, job_id in targets],
            clients=args.clients,
            seconds=args.seconds,
        )
        for name, result in (("baseline /healthz", baseline), ("job status", status)):
            print(
                f"{name}: {args.clients} clients x {args.seconds:.0f} s: "
                f"{result.per_second:.0f} requests/s, {len(result.errors)} errors; "
                + quantiles(result.latencies)
            )
        print(
            f"job status throughput = {status.per_second / baseline.per_second:.2f}"
            " x the baseline's"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
