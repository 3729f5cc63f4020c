"""What a request and a job's run cost in instructions, counted by valgrind's
callgrind: figures that stay the same on a loaded machine, where times do not.

Each runs in one process, as a gunicorn worker or a Celery pool process runs it:

- a constant DRF view (the floor: Django's and DRF's handling, middleware and all),
  the status poll ``GET /api/v1/jobs/{id}`` with a token, and a submission ``POST
  /api/v1/generations`` of 16 images (its message sent to REDIS_URL's broker and
  taken off it afterwards), each through the WSGI application gunicorn serves;
- a 16-image generation job's run, `runner.run_generation_job` as the worker's task
  calls it.

A figure is the difference between two runs of a process under callgrind, with
``--short`` and ``--long`` operations, divided by the difference: Python's start-up
and Django's set-up cancel out, and so do first-time costs (a statement prepared, a
model loaded). Only the process's own instructions count, not PostgreSQL's or
Redis's.

    DATABASE_URL=... REDIS_URL=... python -m bench.instructions

Not part of ``python -m bench``: under valgrind a run takes a minute or two (about
5 minutes in all, two at a time). Needs ``valgrind``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.generation import BENCH_ENV
from bench.load import REPO, require_services
from bench.writes import public_model, stubbed_broker

# What is measured, in the order printed; the first is the floor.
KINDS = {
    "constant": "constant DRF view (the floor)",
    "poll": "status poll, GET /api/v1/jobs/{id}",
    "submission": "submission, POST /api/v1/generations",
    "run": "a 16-image job's run in the worker",
}
_COLLECTED = re.compile(r"Collected : (\d+)")


def _environ(method: str, path: str, token: str, body: bytes = b"") -> dict[str, Any]:
    """A WSGI request as gunicorn hands it over, from 127.0.0.1 with a token."""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _operations(kind: str, count: int) -> None:
    """Do ``count`` operations of ``kind`` (the child process's work)."""
    model = public_model()
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from webapp.jobs import runner, services
    from webapp.jobs.models import Job
    from webapp.wsgi import application

    owner = User.objects.create_user(f"bench-instructions-{uuid.uuid4().hex[:8]}")
    token = Token.objects.create(user=owner).key

    def request(method: str, path: str, body: bytes = b"") -> bytes:
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None, /) -> Any:
            statuses.append(status)

        response = application(_environ(method, path, token, body), start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()  # as gunicorn does: Django's request_finished
        if not statuses[0].startswith(("200", "202")):
            raise RuntimeError(f"{method} {path}: {statuses[0]} {content[:200]!r}")
        return content

    body = json.dumps({"model_version": model.pk, "n_images": 16}).encode()
    submit = ("POST", "/api/v1/generations", body)
    if kind == "run":
        # As many jobs whatever the count: only their runs differ.
        with stubbed_broker():
            jobs = [
                services.create_generation_job(
                    owner, model_version=model, n_images=16, seed=seed
                ).pk
                for seed in range(100)
            ]
    elif kind == "poll":
        polled = json.loads(request(*submit))["id"]

    def operation(index: int) -> object:
        if kind == "constant":
            return request("GET", "/bench/constant")
        if kind == "poll":
            return request("GET", f"/api/v1/jobs/{polled}")
        if kind == "submission":
            return request(*submit)
        return runner.run_generation_job(jobs[index])

    try:
        for index in range(count):
            operation(index)
    finally:
        _take_back(Job.objects.filter(owner=owner))


def _take_back(jobs: Any) -> None:
    """Delete the jobs, and their messages from the broker's generation queue."""
    import redis

    from webapp.jobs import dispatch

    task_ids = set(jobs.values_list("celery_task_id", flat=True))
    jobs.delete()
    broker = redis.Redis.from_url(dispatch.app.conf.broker_url)
    try:
        for raw in broker.lrange("generation", 0, -1):
            if json.loads(raw)["headers"]["id"] in task_ids:
                # redis-py's stubs type values as str; bytes are sent as they are.
                broker.lrem("generation", 0, raw)  # type: ignore[arg-type]
    finally:
        broker.close()


def _instructions(kind: str, count: int) -> int:
    """The instructions of a process doing ``count`` operations of ``kind``."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.instructions", "--child", kind, str(count),
    ]  # fmt: skip
    # The same hashes in every run: set and dict orders, and so the work, repeat.
    env = {**os.environ, **BENCH_ENV, "PYTHONHASHSEED": "0", "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{kind} x {count} under callgrind:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def figures(short: int, long: int) -> list[str]:
    public_model()  # migrated and trained once, before the children
    runs = [(kind, count) for kind in KINDS for count in (short, long)]
    with ThreadPoolExecutor(2) as pool:
        counted = dict(
            zip(runs, pool.map(lambda run: _instructions(*run), runs), strict=True)
        )
    per = {
        kind: (counted[kind, long] - counted[kind, short]) / (long - short)
        for kind in KINDS
    }
    floor = per["constant"]
    lines = [f"{long - short} operations each (runs of {short} and {long})"]
    for kind, name in KINDS.items():
        ratio = "" if kind == "constant" else f"  ({per[kind] / floor:.2f} x the floor)"
        lines.append(f"{name:<40} {per[kind] / 1e6:6.2f} M instructions{ratio}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=60)
    parser.add_argument(
        "--child", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        kind, count = args.child
        _operations(kind, int(count))
        return 0
    require_services(parser)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is needed (apt install valgrind)")
    if not 0 < args.short < args.long <= 100:
        parser.error("0 < --short < --long <= 100")
    os.environ.update(BENCH_ENV)
    for line in figures(args.short, args.long):
        print(line)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
