from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.fresh_python import run_python


def test_schema_generates_without_warnings() -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/api/v1/auth/register",
        "/api/v1/training-runs",
        "/api/v1/generations",
        "/api/v1/jobs/",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/{id}/cancel",
        "/api/v1/model-versions/{id}/set-default",
        "/api/v1/galleries/{id}/grid.png",
        "/api/v1/images/{id}.png",
        "/api/v1/galleries/{id}/share",
        "/api/v1/galleries/{id}/walk.gif",
        "/api/v1/model-versions/{id}/share",
        "/api/v1/share-links",
        "/api/v1/share-links/{id}",
        "/stats",
        "/generate",
    ):
        assert f"{path}:" in schema, path


@pytest.mark.django_db
def test_schema_and_docs_are_served(anonymous_client: APIClient) -> None:
    schema = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = anonymous_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(anonymous_client: APIClient) -> None:
    response = anonymous_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_health_check(anonymous_client: APIClient) -> None:
    response = anonymous_client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_schema_and_docs_hold_no_data(
    anonymous_client: APIClient, make_model_version: Any
) -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from tests.webapp.job_rows import training_job

    user = User.objects.create_user("zelda-secret-name", password="x-long-pass-12")
    token = Token.objects.create(user=user)
    job = training_job(user, name="zelda's private run")
    model_version = make_model_version(user, name="zelda-model")
    secrets = [user.username, token.key, str(job.pk), job.name, model_version.name]
    pages = [
        anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/json"),
        anonymous_client.get("/api/schema/"),
        anonymous_client.get("/api/docs/"),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        for secret in secrets:
            assert secret not in text


def test_the_schema_is_built_once_per_process(
    anonymous_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drf_spectacular.generators import SchemaGenerator

    from webapp.schema import SchemaView

    monkeypatch.setattr(SchemaView, "_built", {})
    monkeypatch.setattr(SchemaView, "_rendered", {})
    builds = []
    original = SchemaGenerator.get_schema

    def counted(self: SchemaGenerator, *args: Any, **kwargs: Any) -> Any:
        builds.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    first = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    second = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    yaml = anonymous_client.get("/api/schema/")
    assert first.json() == second.json()
    assert first["Content-Type"] == "application/json"
    assert yaml.content.startswith(b"openapi: 3")
    assert yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert len(builds) == 1


# Eight threads ask a fresh process for the schema at the same moment, as the first
# requests to a threaded gunicorn do.
_THREADS_AT_ONCE = """
import django, json, threading
django.setup()
from django.test import Client
start, statuses = threading.Barrier(8), []
def ask():
    client = Client(HTTP_HOST="localhost", raise_request_exception=False)
    start.wait()
    statuses.append(client.get("/api/schema/").status_code)
threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(statuses))
"""


def test_threads_building_the_schema_at_once_all_get_it(tmp_path: Path) -> None:
    # A fresh interpreter: drf-spectacular loads its extensions once per process,
    # and the race was in that first load.
    result = run_python(
        _THREADS_AT_ONCE,
        data_dir=tmp_path,
        env={"DJANGO_SETTINGS_MODULE": "webapp.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [200] * 8
