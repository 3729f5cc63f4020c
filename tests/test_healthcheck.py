"""deploy/healthcheck.py: the containers' HTTP health check."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "deploy" / "healthcheck.py"


class Probe(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []  # noqa: RUF012

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        status = 200 if self.path == "/readyz" else 503
        body = b'{"status": "ready"}' if status == 200 else b'{"missing": ["broker"]}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Probe.hosts = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Probe)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def check(url: str, allowed_hosts: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"]}
    if allowed_hosts is not None:
        env["ALLOWED_HOSTS"] = allowed_hosts
    return subprocess.run(
        [sys.executable, str(SCRIPT), url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_a_200_is_healthy_and_the_request_names_the_first_allowed_host(
    server: str,
) -> None:
    result = check(server + "/readyz", "studio.example.org,localhost")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(f"{server}/readyz: 200 ")
    assert Probe.hosts == ["studio.example.org"]


@pytest.mark.parametrize(
    ("allowed_hosts", "sent"),
    [(".example.org", "example.org"), ("*", None), ("", None), (None, None)],
)
def test_wildcards_and_no_hosts_send_the_urls_own_host(
    server: str, allowed_hosts: str | None, sent: str | None
) -> None:
    assert check(server + "/readyz", allowed_hosts).returncode == 0
    assert Probe.hosts == [sent or server.removeprefix("http://")]


def test_anything_but_a_200_is_unhealthy_and_says_why(server: str) -> None:
    result = check(server + "/other", "localhost")
    assert result.returncode == 1
    assert '503 {"missing": ["broker"]}' in result.stdout


def test_nothing_listening_is_unhealthy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check(f"http://127.0.0.1:{port}/readyz", "localhost")
    assert result.returncode == 1
    assert result.stdout.startswith(f"http://127.0.0.1:{port}/readyz: ")
