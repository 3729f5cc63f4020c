"""The whole run: packages, lock, recovery, the steps in order, the cleanup."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from types import FrameType

import compose_smoke
from compose_smoke.common import (
    RUN_DIR,
    STATE_DIR,
    STOP_SIGNALS,
    Cleanup,
    Failure,
    Interrupted,
    Timings,
    run,
    say,
    tail,
)
from compose_smoke.host import (
    DOCKERD_LOG,
    HostState,
    leftover_engine,
    restore_host,
    start_engine,
    stop_engine,
    unmount_leftovers,
)
from compose_smoke.images import (
    DEBOOTSTRAP_IMAGE,
    STAND_INS,
    build_stand_ins,
    export_mnist,
    remove_images,
)
from compose_smoke.operations import check_operations
from compose_smoke.stack import (
    APP_IMAGE,
    Api,
    Compose,
    check_rest_flow,
    check_start_order,
    check_worker_restart,
    free_port,
    wait_until_healthy,
)

APT_PACKAGES = {
    "dockerd": "docker.io",
    "docker-compose": "docker-compose",
    "debootstrap": "debootstrap",
}
HOST_RECORD = STATE_DIR / "host-state.json"
LOCK_FILE = STATE_DIR / "lock"
LOCK_TIMEOUT = 1800.0


def install_packages() -> None:
    missing = [
        pkg for command, pkg in APT_PACKAGES.items() if shutil.which(command) is None
    ]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
    run([*apt, "update", "-qq"], env=env)
    run([*apt, "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One smoke test at a time per machine: runs share the engine's paths."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Failure("another compose-smoke run holds the lock") from None
                time.sleep(2)
        yield


def recover_from_crash() -> None:
    """Undo what an earlier run, killed before its cleanup, left behind."""
    pid = leftover_engine()
    if pid is not None:
        say("the dockerd of an earlier run is still up")
        stop_engine(pid)
    unmount_leftovers()
    if HOST_RECORD.exists():
        say(f"restoring the host from {HOST_RECORD}, left by an earlier run")
        restore_host(HostState(**json.loads(HOST_RECORD.read_text())))
        HOST_RECORD.unlink()
    shutil.rmtree(RUN_DIR, ignore_errors=True)


def smoke(cold: bool, timings: Timings, cleanup: Cleanup) -> None:
    with timings.step("record the host state, start dockerd"):
        saved = HostState.record()
        HOST_RECORD.write_text(json.dumps(asdict(saved), indent=1))

        def restore() -> None:
            restore_host(saved)
            HOST_RECORD.unlink()

        cleanup.push("restore the host", restore)
        cleanup.push("remove the run directory", lambda: shutil.rmtree(RUN_DIR))
        cleanup.push("unmount leftovers", unmount_leftovers)
        # Our bridge exists from here on: restoring the host deletes it.
        engine = start_engine()
        cleanup.push("stop dockerd", lambda: stop_engine(engine))
        cleanup.push("remove the project's image", lambda: remove_images([APP_IMAGE]))
    if cold:
        with timings.step("remove the cached base images (--cold)"):
            remove_images([tag for tag, _ in reversed(STAND_INS)] + [DEBOOTSTRAP_IMAGE])
    with timings.step("base images: debootstrap, import, stand-ins"):
        build_stand_ins()
    with timings.step("MNIST files for the containers"):
        mnist_dir = export_mnist()
    # The run's own .env (one left in a developer's clone does not apply): fresh
    # secrets, which the compose file requires, and plain HTTP on loopback.
    env_file = RUN_DIR / "run.env"
    generated = {
        name: secrets.token_hex(24)
        for name in (
            "SECRET_KEY",
            "POSTGRES_PASSWORD",
            "REDIS_PASSWORD",
            "FLOWER_PASSWORD",
        )
    }
    env_file.write_text(
        "".join(f"{name}={value}\n" for name, value in generated.items())
        + "SECURE_SSL=0\n"
    )
    port = free_port()
    compose = Compose(port, free_port(start=port + 1), mnist_dir, env_file)
    with timings.step("docker-compose config"):
        services = compose("config", "--services", capture=True).stdout.split()
        compose("config", "--quiet")
        say(f"services: {' '.join(services)}; web on 127.0.0.1:{compose.port}")
    if compose.leftovers():
        with timings.step("docker-compose down -v: what a killed run left"):
            compose.down()
    cleanup.push("docker-compose down -v", compose.down)
    try:
        with timings.step("docker-compose build"):
            compose("build", timeout=1800)
        with timings.step("docker-compose up -d, wait for every healthcheck"):
            since = time.time()
            compose("up", "--detach", timeout=600)
            # Right away (up returns once every container has started): the
            # engine keeps only its last 256 events, and the health checks' own
            # soon push out those of the start-up.
            check_start_order(since)
            wait_until_healthy(compose, services)
            api = Api(f"http://127.0.0.1:{compose.port}")
            api.wait_until_up()
        ran = check_rest_flow(api, timings)
        check_operations(compose, ran, generated["FLOWER_PASSWORD"], timings)
        check_worker_restart(api, compose, timings)
    except BaseException:
        compose.dump_logs()
        raise


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="compose-smoke",
        description=compose_smoke.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="rebuild the cached base images from scratch",
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(
            "compose-smoke: run it as root: it starts its own dockerd", file=sys.stderr
        )
        return 2
    for signum in STOP_SIGNALS:
        signal.signal(signum, interrupt)
    timings = Timings()
    cleanup = Cleanup()
    error: BaseException | None = None
    try:
        with timings.step("install docker.io, docker-compose, debootstrap"):
            install_packages()
        with locked():
            recover_from_crash()
            try:
                smoke(args.cold, timings, cleanup)
            except (Failure, Interrupted) as exc:
                error = exc
                print(
                    f"--- last lines of {DOCKERD_LOG} ---\n{tail(DOCKERD_LOG)}",
                    flush=True,
                )
            finally:
                with timings.step("clean up: down -v, stop dockerd, restore the host"):
                    cleanup.run()
    except (Failure, Interrupted) as exc:
        error = exc
    print(timings.summary(), flush=True)
    problems = [str(error)] if error is not None else []
    problems += [f"cleanup: {problem}" for problem in cleanup.errors]
    for problem in problems:
        say(f"FAILED: {problem}")
    if problems:
        return 1
    say("passed")
    return 0
