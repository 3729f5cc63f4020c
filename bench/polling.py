"""Status polling under gunicorn, measured with wrk beside its floor.

``GET /api/v1/jobs/{id}`` with a token, ``/healthz`` and a constant-JSON DRF view
(``/bench/constant``, bench/urls.py: the floor) and ``/api/schema/``, each for
``--seconds`` with ``--connections`` connections, against gunicorn started as
deploy/Dockerfile runs it (2 sync workers); then the constant view again under a
gunicorn with no middleware (the floor the issue measured). Prints requests/s,
p50 and p99 per path, the CPU time each request cost the web workers and
PostgreSQL (what a busy, shared machine changes least), and the job poll as a
fraction of the floors. Needs
DATABASE_URL and REDIS_URL naming a PostgreSQL database and a Redis database this
may fill.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/studio_bench \\
    REDIS_URL=redis://127.0.0.1:6379/14 python -m bench.polling
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.load import free_port, require_services, running, wait_until_up

SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-" + uuid.uuid4().hex,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL": "0",
    "OMP_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class WrkResult:
    path: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


@dataclass(frozen=True)
class PathResult:
    """One path's wrk figures and the CPU its requests cost the server side."""

    wrk: WrkResult
    web_cpu_seconds: float
    database_cpu_seconds: float

    def line(self) -> str:
        requests = max(self.wrk.requests, 1)
        return (
            f"{self.wrk.path:<32} {self.wrk.requests_per_second:8.0f} req/s  "
            f"p50 {self.wrk.p50_ms:6.1f} ms  p99 {self.wrk.p99_ms:6.1f} ms  "
            f"errors {self.wrk.errors}  CPU per request: web "
            f"{1e3 * self.web_cpu_seconds / requests:.2f} ms, PostgreSQL "
            f"{1e3 * self.database_cpu_seconds / requests:.2f} ms"
        )


def _milliseconds(value: str) -> float:
    if value == "inf":
        return math.inf
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(
    base_url: str,
    path: str,
    *,
    token: str | None = None,
    connections: int = 20,
    seconds: int = 10,
    threads: int = 2,
) -> WrkResult:
    """One wrk run; non-2xx answers and socket errors are counted as errors."""
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
        base_url + path,
    ]  # fmt: skip
    if token:
        command[1:1] = ["-H", f"Authorization: Token {token}"]
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    # No line at all when every request timed out (wrk's 2 s): report infinity.
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    errors = sum(
        int(count)
        for count in re.findall(
            r"(?:Non-2xx or 3xx responses|connect|read|write|timeout)\s*:?\s*(\d+)",
            output,
        )
    )
    return WrkResult(
        path=path,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        p50_ms=_milliseconds(latency.get("50", "inf")),
        p99_ms=_milliseconds(latency.get("99", "inf")),
        errors=errors,
        requests=int(re.search(r"(\d+) requests in", output)[1]),  # type: ignore[index]
    )


def prepare_job() -> tuple[str, str]:
    """Migrate; a user, its token and a finished generation job: (token, job id)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from webapp.jobs.models import Job

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(f"bench-poll-{uuid.uuid4().hex[:8]}")
    job = Job.objects.create(
        owner=user, kind=Job.Kind.GENERATION, state=Job.State.QUEUED, params={}
    )
    return Token.objects.create(user=user).key, str(job.pk)


def gunicorn_command(
    port: int, workers: int, app: str = "webapp.wsgi:application"
) -> list[str]:
    """deploy/Dockerfile's command, on loopback (its access log included)."""
    return [
        sys.executable, "-m", "gunicorn", app,
        f"--bind=127.0.0.1:{port}", f"--workers={workers}", "--timeout=120",
        "--access-logfile=/dev/null",
    ]  # fmt: skip


@contextmanager
def web_server(
    workers: int = 2, settings: str = "bench.settings"
) -> Iterator[tuple[str, int]]:
    """gunicorn with the bench settings (or ``settings``); yields its base URL and
    master's pid."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **SERVER_ENV, "DJANGO_SETTINGS_MODULE": settings}
    with running([gunicorn_command(port, workers)], env) as (master,):
        wait_until_up(base_url, timeout=60)
        yield base_url, master.pid


def peak_rss_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    kilobytes = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(kilobytes[1]) / 1024 if kilobytes else 0.0


def children(parent_pid: int) -> list[int]:
    """The pids of a process's children (a server's workers)."""
    path = Path(f"/proc/{parent_pid}/task/{parent_pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def children_peak_rss_mb(parent_pid: int) -> float:
    """The largest peak RSS among a server's worker processes, in MB."""
    return max([peak_rss_mb(pid) for pid in children(parent_pid)] or [0])


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time the processes have used (those still running)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def database_backend_pids() -> list[int]:
    """PostgreSQL's processes serving this database, but for this one's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def measure(
    base_url: str,
    master_pid: int,
    token: str,
    job_id: str,
    *,
    connections: int,
    seconds: int,
) -> list[PathResult]:
    """Warm each path up, then the floor, /healthz, the job poll and the schema,
    each with the CPU time its requests cost the web workers and PostgreSQL.

    PostgreSQL runs on this machine (the CPU of its processes is read from /proc).
    """
    targets = [
        ("/bench/constant", None),
        ("/healthz", None),
        (f"/api/v1/jobs/{job_id}", token),
        ("/api/schema/", None),
    ]
    results = []
    for path, path_token in targets:
        wrk(base_url, path, token=path_token, connections=2, seconds=1)
        web, database = children(master_pid), database_backend_pids()
        web_started, database_started = cpu_seconds(web), cpu_seconds(database)
        result = wrk(
            base_url, path, token=path_token, connections=connections, seconds=seconds
        )
        results.append(
            PathResult(
                result,
                web_cpu_seconds=cpu_seconds(web) - web_started,
                database_cpu_seconds=cpu_seconds(database) - database_started,
            )
        )
    return results


def bare_floor(*, connections: int, seconds: int, workers: int) -> WrkResult:
    """The constant view under gunicorn with no middleware (bench/bare_settings.py):
    the floor the issue set its target beside."""
    with web_server(workers, "bench.bare_settings") as (base_url, _):
        wrk(base_url, "/bench/constant", connections=2, seconds=1)
        return wrk(
            base_url, "/bench/constant", connections=connections, seconds=seconds
        )


def figures(*, connections: int = 20, seconds: int = 10, workers: int = 2) -> list[str]:
    """Every path's line, the web worker's peak RSS and the poll beside its floors."""
    token, job_id = prepare_job()
    with web_server(workers) as (base_url, master_pid):
        results = measure(
            base_url,
            master_pid,
            token,
            job_id,
            connections=connections,
            seconds=seconds,
        )
        peak = children_peak_rss_mb(master_pid)
    bare = bare_floor(connections=connections, seconds=seconds, workers=workers)
    floor, health, poll, _ = (result.wrk for result in results)
    rate = poll.requests_per_second
    return [
        f"gunicorn {workers} sync workers, wrk {connections} connections "
        f"x {seconds} s, {os.cpu_count()} CPUs",
        *(result.line() for result in results),
        f"{'/bench/constant, no middleware':<32} "
        f"{bare.requests_per_second:8.0f} req/s  p50 {bare.p50_ms:6.1f} ms  "
        f"p99 {bare.p99_ms:6.1f} ms  errors {bare.errors}",
        f"=> the job poll: {rate / floor.requests_per_second:.2f} x the constant DRF "
        f"view, {rate / health.requests_per_second:.2f} x /healthz, "
        f"{rate / bare.requests_per_second:.2f} x the view without middleware "
        f"(the issue's target, 1,500 req/s, was {1500 / 3900:.2f} x its 3,900)",
        f"peak RSS of a web worker after the polling: {peak:.0f} MB",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    require_services(parser)
    for line in figures(
        connections=args.connections, seconds=args.seconds, workers=args.workers
    ):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
