"""The stack and the checks: docker-compose with the CI override, and what a
user does over the REST API, from the host."""

from __future__ import annotations

import io
import json
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compose_smoke.common import CI_DIR, REPO, Failure, Timings, run, say
from compose_smoke.host import docker, docker_env

COMPOSE_FILES = (REPO / "docker-compose.yml", CI_DIR / "docker-compose.ci.yml")
PROJECT = "mnistkdeci"
APP_IMAGE = "mnist-kde-studio:latest"
WORKER_SERVICES = ("worker-training", "worker-generation", "worker-maintenance")
APP_SERVICES = ("web", *WORKER_SERVICES, "beat", "flower")
# Each worker service's node name is <queue>@<container host name>.
WORKER_NODES = ("training", "generation", "maintenance")
FLOWER_USER = "admin"
BACKING_SERVICES = ("db", "redis")
HEALTHY_TIMEOUT = 180.0
JOB_TIMEOUT = 300.0
HTTP_TIMEOUT = 30.0
LOG_TAIL_LINES = 80
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The health endpoints checked from the host: the single place to add more.
HEALTH_PATHS = ("/healthz", "/readyz")

# A training run of about 30 CPU-seconds (its exact bandwidth search is
# quadratic in n_train): on 2 cores it outlasts the restart's 10-second stop
# timeout (RESTART_TIMEOUT), so the restart kills it mid-way and the new worker
# has to take it over.
RESTART_TRAINING = {
    "name": "ci worker restart",
    "preset": "notebook",
    "n_train": 15000,
    "seed": 2,
}
# The restart comes once this much is done: the bandwidth search has begun.
RESTART_AT_PROGRESS = 0.15
# Seconds `docker-compose restart` waits before killing: shorter than the
# compose file's stop_grace_period (which would let the training finish).
RESTART_TIMEOUT = 10


def free_port(start: int = 18000, stop: int = 18100) -> int:
    for port in range(start, stop):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise Failure(f"no free TCP port on 127.0.0.1 in {start}..{stop - 1}")


# --- Compose -------------------------------------------------------------------------


class Compose:
    """docker-compose on the project's file and the CI override, in a fixed env."""

    def __init__(
        self, port: int, flower_port: int, mnist_dir: Path, env_file: Path
    ) -> None:
        self.port = port
        self.flower_port = flower_port
        self.env = {
            **docker_env(),
            "PORT": str(port),
            "FLOWER_PORT": str(flower_port),
            "CI_MNIST_DIR": str(mnist_dir),
        }
        self.argv = [
            "docker-compose",
            f"--project-name={PROJECT}",
            f"--project-directory={REPO}",
            f"--env-file={env_file}",
        ]
        self.argv += [f"--file={path}" for path in COMPOSE_FILES]

    def __call__(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([*self.argv, *args], env=self.env, **kwargs)

    def containers(self) -> dict[str, dict[str, Any]]:
        """``docker inspect`` of the project's containers, by service name."""
        ids = self("ps", "--quiet", capture=True).stdout.split()
        if not ids:
            return {}
        inspected = json.loads(docker("inspect", *ids, capture=True).stdout)
        return {
            c["Config"]["Labels"]["com.docker.compose.service"]: c for c in inspected
        }

    def leftovers(self) -> bool:
        """Whether containers or volumes of the project exist (a killed run's)."""
        label = f"--filter=label=com.docker.compose.project={PROJECT}"
        containers = docker("container", "ls", "--all", "--quiet", label, capture=True)
        volumes = docker("volume", "ls", "--quiet", label, capture=True)
        return bool(containers.stdout.strip() or volumes.stdout.strip())

    def down(self) -> None:
        self("down", "--volumes", "--remove-orphans", "--timeout=20", timeout=300)

    def dump_logs(self) -> None:
        say(f"the last {LOG_TAIL_LINES} log lines of each service:")
        self("logs", "--no-color", f"--tail={LOG_TAIL_LINES}", check=False, timeout=120)


def wait_until_healthy(compose: Compose, services: Sequence[str]) -> None:
    """Every service's container running, and healthy where it has a healthcheck."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    last = ""
    while True:
        containers = compose.containers()
        states: dict[str, str] = {}
        for service in services:
            state = containers.get(service, {}).get("State", {})
            status = state.get("Status", "missing")
            if status in ("exited", "dead") or state.get("Restarting"):
                raise Failure(
                    f"{service} is {status} (exit code {state.get('ExitCode')})"
                )
            states[service] = state.get("Health", {}).get("Status", status)
        report = ", ".join(f"{name} {status}" for name, status in states.items())
        if report != last:
            say(report)
            last = report
        if all(status in ("healthy", "running") for status in states.values()):
            return
        if time.monotonic() > deadline:
            raise Failure(f"not all healthy within {HEALTHY_TIMEOUT:.0f} s: {report}")
        time.sleep(1)


def check_start_order(since: float) -> None:
    """Check from the engine's events that the app services started only after
    db and redis were healthy."""
    lines = docker(
        "events",
        f"--since={since:.3f}",
        f"--until={time.time():.3f}",
        "--filter=type=container",
        f"--filter=label=com.docker.compose.project={PROJECT}",
        "--format={{json .}}",
        capture=True,
        timeout=60,
    ).stdout.splitlines()
    healthy_at: dict[str, int] = {}
    started_at: dict[str, int] = {}
    for line in lines:
        event = json.loads(line)
        service = event["Actor"]["Attributes"].get("com.docker.compose.service", "")
        if event["status"] == "health_status: healthy":
            healthy_at.setdefault(service, event["timeNano"])
        elif event["status"] == "start":
            started_at.setdefault(service, event["timeNano"])
    missing = [s for s in BACKING_SERVICES if s not in healthy_at]
    missing += [s for s in APP_SERVICES if s not in started_at]
    if missing:
        raise Failure(f"no healthy or start event for {', '.join(missing)}")
    all_healthy = max(healthy_at[service] for service in BACKING_SERVICES)
    first_app = min(started_at[service] for service in APP_SERVICES)
    if first_app < all_healthy:
        raise Failure("an app service started before db and redis were healthy")
    say(
        "depends_on honoured: the app services started "
        f"{(first_app - all_healthy) / 1e9:.1f} s after db and redis were healthy"
    )


# --- The REST API, from the host -----------------------------------------------------


class Api:
    """A tiny JSON client for the studio's REST API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        expect: Sequence[int] = (200,),
    ) -> bytes:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        content: bytes
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                status, content = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        except OSError as error:
            raise Failure(f"{method} {path}: {error}") from error
        if status not in expect:
            raise Failure(f"{method} {path} answered {status}: {content[:500]!r}")
        return content

    def json(self, method: str, path: str, body: object = None, **kwargs: Any) -> Any:
        return json.loads(self.request(method, path, body, **kwargs))

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT
        while True:
            try:
                self.request("GET", "/healthz")
                return
            except Failure as failure:
                if time.monotonic() > deadline:
                    raise Failure(f"the web service is not up: {failure}") from None
            time.sleep(1)

    def wait_job(
        self, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """Poll a job until it has finished, or until ``until(job)``; return it."""
        deadline = time.monotonic() + JOB_TIMEOUT
        last = ""
        while True:
            job: dict[str, Any] = self.json("GET", f"/api/v1/jobs/{job_id}")
            seen = f"{job['state']}, {job['phase'] or '-'}, attempt {job['attempts']}"
            if seen != last:
                say(f"job {job_id[:8]}: {seen}")
                last = seen
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            if until is not None and until(job):
                return job
            if time.monotonic() > deadline:
                raise Failure(f"job {job_id} not finished within {JOB_TIMEOUT:.0f} s")
            time.sleep(0.5)


def expect_succeeded(job: dict[str, Any]) -> None:
    if job["state"] != "succeeded":
        raise Failure(f"job {job['id']} ended {job['state']}: {job['error']}")


def check_rest_flow(api: Api, timings: Timings) -> dict[str, str]:
    """Sign up, train, generate, download the ZIP, health: as a user would.

    Returns the worker service that ran each job, by job id.
    """
    ran: dict[str, str] = {}
    with timings.step("sign up"):
        api.token = api.json(
            "POST",
            "/api/v1/auth/register",
            {
                "username": f"ci-{secrets.token_hex(4)}",
                "password": secrets.token_urlsafe(18),
            },
            expect=(201,),
        )["token"]
    with timings.step("train with the preview preset, poll to succeeded"):
        job = api.json(
            "POST",
            "/api/v1/training-runs",
            {"name": "ci preview", "preset": "preview", "seed": 1},
            expect=(202,),
        )
        job = api.wait_job(job["id"])
        expect_succeeded(job)
        ran[job["id"]] = "worker-training"
    with timings.step("generate a gallery, download and check its ZIP"):
        body = {
            "model_version": job["model_version"],
            "n_images": 16,
            "digit": 7,
            "seed": 0,
        }
        job = api.json("POST", "/api/v1/generations", body, expect=(202,))
        job = api.wait_job(job["id"])
        expect_succeeded(job)
        ran[job["id"]] = "worker-generation"
        content = api.request("GET", f"/api/v1/galleries/{job['gallery']}/download")
        check_gallery_zip(content, body["n_images"])
    with timings.step("health endpoints"):
        for path in HEALTH_PATHS:
            say(f"GET {path}: {api.request('GET', path).decode().strip()}")
    return ran


def check_gallery_zip(content: bytes, n_images: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            damaged = archive.testzip()
            names = archive.namelist()
            pngs = [archive.read(name) for name in names if name.endswith(".png")]
            listing = json.loads(archive.read("gallery.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Failure(
            f"the gallery download is not a valid gallery ZIP: {exc}"
        ) from exc
    if damaged is not None:
        raise Failure(f"the gallery ZIP has a damaged member: {damaged}")
    if len(pngs) != n_images or any(not png.startswith(PNG_SIGNATURE) for png in pngs):
        raise Failure(
            f"the gallery ZIP holds {len(pngs)} PNG images, expected {n_images}"
        )
    say(
        f"gallery ZIP: {len(content)} bytes, {len(pngs)} PNG images, "
        f"gallery.json with {sorted(listing)}"
    )


def check_worker_restart(api: Api, compose: Compose, timings: Timings) -> None:
    """Restart the worker mid-training: the run succeeds once, one model version."""
    with timings.step("worker restart: train until mid-way"):
        job = api.json("POST", "/api/v1/training-runs", RESTART_TRAINING, expect=(202,))
        job = api.wait_job(
            job["id"],
            until=lambda j: (
                j["state"] == "running" and j["progress"] >= RESTART_AT_PROGRESS
            ),
        )
        if job["state"] != "running":
            raise Failure(
                f"the training run was already {job['state']} when the worker was to "
                "be restarted: make RESTART_TRAINING larger"
            )
        say(f"job {job['id'][:8]} is {job['phase']}, {job['progress']:.0%} done")
    with timings.step("worker restart: docker-compose restart worker-training"):
        compose(
            "restart", f"--timeout={RESTART_TIMEOUT}", "worker-training", timeout=300
        )
    with timings.step("worker restart: the run finishes"):
        job = api.wait_job(job["id"])
        expect_succeeded(job)
        versions = api.json("GET", "/api/v1/model-versions/?mine=true&page_size=100")
        made = [v for v in versions["results"] if v["training_job"] == job["id"]]
        if len(made) != 1 or made[0]["id"] != job["model_version"]:
            raise Failure(f"training run {job['id']} made {len(made)} model versions")
        say(
            f"it succeeded once, on attempt {job['attempts']}: "
            f"model version {made[0]['id']}"
        )
