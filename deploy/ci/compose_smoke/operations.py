"""What an operator sees of the running stack: the workers' JSON log lines, and
Flower behind its password."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from compose_smoke.common import Failure, Timings, say
from compose_smoke.stack import FLOWER_USER, HTTP_TIMEOUT, WORKER_NODES, Compose


def json_events(compose: Compose, service: str) -> list[dict[str, Any]]:
    """The service's log lines that are JSON objects (docker-compose prefixes each
    line with the container's name and a bar)."""
    output = compose("logs", "--no-color", service, capture=True, timeout=120).stdout
    events = []
    for line in output.splitlines():
        _, bar, text = line.partition("| ")
        if bar and text.startswith("{"):
            try:
                events.append(json.loads(text))
            except ValueError as error:
                raise Failure(f"{service} logged a broken JSON line: {text}") from error
    return events


def check_job_logs(compose: Compose, ran: dict[str, str]) -> None:
    """Each job's worker logged JSON events naming its job, user and task."""
    for job_id, service in ran.items():
        events = [e for e in json_events(compose, service) if e.get("job_id") == job_id]
        if not any(e.get("user_id") and e.get("task_id") for e in events):
            raise Failure(
                f"{service} logged no JSON event with job_id {job_id}, a user_id "
                f"and a task_id ({len(events)} events name the job)"
            )
        say(f"{service}: {len(events)} JSON events of job {job_id[:8]}")


def flower_get(compose: Compose, path: str, password: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{compose.flower_port}{path}")
    if password is not None:
        token = base64.b64encode(f"{FLOWER_USER}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        raise Failure(f"Flower GET {path}: {error}") from error


def check_flower(compose: Compose, password: str) -> None:
    """Flower refuses visitors without the password and shows the worker nodes."""
    for who, given in (("no password", None), ("a wrong password", password + "x")):
        status, _ = flower_get(compose, "/api/workers", given)
        if status != 401:
            raise Failure(f"Flower answered {status} to a visitor with {who}")
    status, content = flower_get(compose, "/api/workers?refresh=1", password)
    if status != 200:
        raise Failure(f"Flower answered {status} to the operator: {content[:300]!r}")
    nodes = sorted(json.loads(content))
    queues = sorted(node.split("@", 1)[0] for node in nodes)
    if queues != sorted(WORKER_NODES):
        raise Failure(f"Flower shows the workers {nodes}, expected {WORKER_NODES}")
    say(f"Flower: 401 without the password; workers {', '.join(nodes)}")


def check_operations(
    compose: Compose, ran: dict[str, str], flower_password: str, timings: Timings
) -> None:
    with timings.step("the workers' JSON logs name the jobs"):
        check_job_logs(compose, ran)
    with timings.step("Flower: authentication, the worker nodes"):
        check_flower(compose, flower_password)
