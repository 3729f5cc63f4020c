"""A web server whose PostgreSQL connections the server ended (a restart,
``pg_terminate_backend``, an idle timeout) answers its next requests on new ones:
the health check (webapp/postgresql/base.py) replaces a closed connection before
a request uses it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from bench.load import call, free_port, running, wait_until_up
from bench.polling import gunicorn_command

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# The server's connections carry it, so that the test ends those and no other.
APPLICATION_NAME = f"studio-restart-test-{os.getpid()}"


@pytest.fixture
def web_server(process_env: dict[str, str]) -> Iterator[str]:
    """gunicorn as deploy/Dockerfile runs it (sync workers), with one worker so
    that every request meets the same kept connection."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = process_env["DATABASE_URL"]
    env = {
        **process_env,
        "DATABASE_URL": f"{database_url}?application_name={APPLICATION_NAME}",
    }
    with running([gunicorn_command(port, workers=1)], env):
        wait_until_up(base_url, timeout=60)
        yield base_url


def server_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            [APPLICATION_NAME],
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_requests_after_the_server_ended_every_connection_answer_200(
    web_server: str,
    terminate_backends: Callable[[Sequence[int]], None],
    make_job: Any,
) -> None:
    user = User.objects.create_user("poller")
    token = Token.objects.create(user=user).key
    path = f"/api/v1/jobs/{make_job(user).pk}"
    assert call(web_server, "GET", path, token=token).status == 200
    ended = server_backends()
    assert ended, "the server kept no connection"

    terminate_backends(ended)

    statuses = [call(web_server, "GET", path, token=token).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert set(server_backends()).isdisjoint(ended)
