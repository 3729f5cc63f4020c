"""/readyz and ``manage.py readiness``: database, migrations and broker."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.fresh_python import run_python
from webapp.jobs import dispatch

NOWHERE_REDIS = "redis://127.0.0.1:1/0"
NOWHERE_POSTGRES = "postgres://postgres@127.0.0.1:1/nothing"

pytestmark = pytest.mark.django_db


def ready(client: APIClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_ready_when_database_migrations_and_broker_answer(
    anonymous_client: APIClient, make_job: Any, owner: Any
) -> None:
    make_job(owner)
    status, body = ready(anonymous_client)
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["missing"] == []
    assert body["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok"}
    assert {"training", "generation"} <= set(body["queues"])
    assert all(isinstance(length, int) for length in body["queues"].values())
    assert body["oldest_queued_seconds"] >= 0


def test_queue_lengths_count_waiting_messages(settings: SettingsWrapper) -> None:
    import redis

    client = redis.Redis.from_url(dispatch.app.conf.broker_url)
    client.delete("training")
    client.rpush("training", b"one", b"two")
    try:
        assert dispatch.queue_lengths(("training",), timeout=2) == {"training": 2}
    finally:
        client.delete("training")
        client.close()


def test_a_broker_that_does_not_answer_is_named(
    anonymous_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch.app.conf, "broker_url", NOWHERE_REDIS)
    status, body = ready(anonymous_client)
    assert status == 503, body
    assert body["status"] == "unavailable"
    assert body["missing"] == ["broker"]
    assert body["checks"]["broker"].startswith("unavailable: ")
    assert body["checks"]["database"] == "ok"


def test_an_unapplied_migration_is_named(anonymous_client: APIClient) -> None:
    from django.db.migrations.loader import MigrationLoader

    (app, latest), *_ = MigrationLoader(connection).graph.leaf_nodes("jobs")
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = %s AND name = %s", [app, latest]
        )
    status, body = ready(anonymous_client)
    assert status == 503, body
    assert body["missing"] == ["migrations"]
    assert body["checks"]["migrations"] == f"not applied: jobs.{latest}"


def test_probes_skip_the_https_redirect_throttles_and_log_in(
    anonymous_client: APIClient, settings: SettingsWrapper
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "auth": "1/day",
            "generate": "1/day",
            "write": "1/day",
        },
    }
    for path in ("/healthz", "/readyz"):
        for _ in range(3):
            response = anonymous_client.get(path)
            assert response.status_code == 200, (path, response.content)
    # The check works: any other page redirects to HTTPS.
    assert anonymous_client.get("/api/v1/").status_code == 301


def run_without_database(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_python(
        code,
        data_dir=tmp_path,
        env={
            "DATABASE_URL": NOWHERE_POSTGRES,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
        },
    )


def test_a_database_that_does_not_answer_is_named(tmp_path: Path) -> None:
    code = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "response = Client(HTTP_HOST='localhost').get('/readyz')\n"
        "print(json.dumps([response.status_code, response.json()]))\n"
    )
    result = run_without_database(code, tmp_path)
    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.splitlines()[-1])
    assert status == 503
    assert body["missing"] == ["database", "migrations"]
    assert body["checks"]["database"].startswith("unavailable: ")
    assert body["checks"]["broker"] == "ok"


def test_the_readiness_command_fails_and_says_why(tmp_path: Path) -> None:
    code = (
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', 'readiness'])\n"
    )
    result = run_without_database(code, tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["missing"] == ["database", "migrations"]
    assert "not ready: database, migrations" in result.stderr


def test_the_readiness_command_prints_ready() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("readiness", stdout=out)
    assert json.loads(out.getvalue())["status"] == "ready"
