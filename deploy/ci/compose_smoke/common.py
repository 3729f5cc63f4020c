"""What every part of the smoke test uses: paths, failures, commands, timings."""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[3]
CI_DIR = REPO / "deploy" / "ci"
# Persistent (outside the clone): the engine's data root with the cached base
# images, the MNIST files for the containers, the lock, the host record, the log.
STATE_DIR = Path("/var/lib/mnist-kde-ci")
# Per run: socket, pidfile, the engine's exec root.
RUN_DIR = Path("/run/mnist-kde-ci")


class Failure(Exception):
    """The smoke test failed; the message says where and why."""


class Interrupted(BaseException):
    """A signal asked the run to stop; the cleanup still runs."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


STARTED = time.monotonic()


def say(message: str) -> None:
    print(
        f"== compose-smoke [{time.monotonic() - STARTED:5.0f}s] {message}", flush=True
    )


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (echoed unless captured); Failure if it fails and check is set."""
    if not capture:
        print(f"$ {shlex.join(argv)}", flush=True)
    try:
        result = subprocess.run(
            list(argv),
            env=None if env is None else dict(env),
            stdin=stdin,
            capture_output=capture,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise Failure(f"{shlex.join(argv)} took more than {timeout:.0f} s") from exc
    if check and result.returncode != 0:
        detail = f": {result.stderr.strip()}" if capture and result.stderr else ""
        raise Failure(f"{shlex.join(argv)} exited with {result.returncode}{detail}")
    return result


def output(argv: Sequence[str], **kwargs: Any) -> str:
    return run(argv, capture=True, **kwargs).stdout


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({exc})"


class Timings:
    """Wall-clock time of each step, printed as it ends and summed up at the end."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        say(f"{name} ...")
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self.steps.append((name, elapsed))
            say(f"{name}: {elapsed:.1f} s")

    def summary(self) -> str:
        lines = [f"{elapsed:8.1f} s  {name}" for name, elapsed in self.steps]
        lines.append(f"{time.monotonic() - STARTED:8.1f} s  total")
        return "\n".join(lines)


class Cleanup:
    """Undo actions, run newest first, each one whatever the others do."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, Callable[[], object]]] = []
        self.errors: list[str] = []

    def push(self, what: str, action: Callable[[], object]) -> None:
        self.actions.append((what, action))

    def run(self) -> None:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short.
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        while self.actions:
            what, action = self.actions.pop()
            started = time.monotonic()
            try:
                action()
            except Exception as exc:
                self.errors.append(f"{what}: {exc}")
                say(f"cleanup: {what} failed: {exc}")
            else:
                say(f"cleanup: {what}: {time.monotonic() - started:.1f} s")
