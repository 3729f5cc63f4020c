from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def detail(job: Job) -> str:
    return f"/api/v1/jobs/{job.pk}"


def test_anonymous_gets_401(
    anonymous_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    assert anonymous_client.get("/api/v1/jobs/").status_code == 401
    assert anonymous_client.get(detail(job)).status_code == 401
    assert anonymous_client.post(detail(job) + "/cancel").status_code == 401
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED


def test_owner_reads_the_job(api_client: APIClient, owner: User, make_job: Any) -> None:
    job = make_job(owner, name="run")
    response = api_client.get(detail(job))
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == str(job.pk)
    assert set(data) == {
        "id",
        "url",
        "kind",
        "name",
        "state",
        "progress",
        "phase",
        "queue_position",
        "attempts",
        "cancel_requested",
        "error",
        "log_tail",
        "params",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "model_version",
        "gallery",
        "links",
    }
    assert (data["kind"], data["state"], data["queue_position"]) == (
        "training",
        "queued",
        1,
    )
    assert data["params"] == job.params
    assert (data["model_version"], data["gallery"]) == (None, None)
    assert data["links"]["model_version"] is None


def test_other_user_gets_404(
    other_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    assert other_client.get(detail(job)).status_code == 404
    assert other_client.post(detail(job) + "/cancel").status_code == 404
    assert other_client.get("/api/v1/jobs/").json()["results"] == []
    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (Job.State.QUEUED, False)


def test_list_shows_only_own_jobs_newest_first(
    api_client: APIClient, owner: User, other_user: User, make_job: Any
) -> None:
    first = make_job(owner)
    make_job(other_user)
    second = make_job(owner)
    response = api_client.get("/api/v1/jobs/")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [item["id"] for item in data["results"]] == [str(second.pk), str(first.pk)]


def test_list_filters_by_kind_and_state(
    api_client: APIClient, owner: User, make_model_version: Any, make_job: Any
) -> None:
    queued = make_job(owner)
    running = make_job(owner, state=Job.State.RUNNING)
    make_job(owner, state=Job.State.FAILED)
    generation = make_job(owner, kind=Job.Kind.GENERATION, params={})

    def ids(query: str) -> set[str]:
        response = api_client.get("/api/v1/jobs/" + query)
        assert response.status_code == 200
        return {item["id"] for item in response.json()["results"]}

    assert ids("?kind=generation") == {str(generation.pk)}
    assert ids("?kind=training&state=queued&state=running") == {
        str(queued.pk),
        str(running.pk),
    }


@pytest.mark.parametrize("query", ["?state=exploded", "?kind=magic", "?page=99"])
def test_bad_list_parameters_are_client_errors(
    api_client: APIClient, owner: User, query: str, make_job: Any
) -> None:
    make_job(owner)
    response = api_client.get("/api/v1/jobs/" + query)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    ("query", "found"),
    [
        # Offsets PostgreSQL refuses (past ±15:59) but ISO 8601 and Python allow.
        ("?created_after=2000-01-01T00:00:00-22:10", True),
        ("?created_before=2000-01-01T00:00:00%2B23:59", False),
        ("?created_after=0001-01-01T00:00:00%2B23:00", True),
        ("?created_before=9999-12-31T23:00:00-23:00", True),
    ],
)
def test_created_filters_take_any_utc_offset(
    api_client: APIClient, owner: User, query: str, found: bool, make_job: Any
) -> None:
    job = make_job(owner)
    response = api_client.get("/api/v1/jobs/" + query)
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["results"]]
    assert ids == ([str(job.pk)] if found else [])


def test_list_is_paginated(api_client: APIClient, owner: User, make_job: Any) -> None:
    for _ in range(3):
        make_job(owner)
    data = api_client.get("/api/v1/jobs/?page_size=2").json()
    assert (data["count"], len(data["results"])) == (3, 2)
    assert data["next"] is not None


def test_malformed_id_is_a_404(api_client: APIClient) -> None:
    assert api_client.get("/api/v1/jobs/not-a-uuid").status_code == 404


def test_succeeded_jobs_link_their_results(
    api_client: APIClient, owner: User, make_model_version: Any, make_job: Any
) -> None:
    from webapp.gallery.models import Gallery

    training = make_job(owner, state=Job.State.SUCCEEDED)
    model_version = make_model_version(owner, training_job=training)
    generation = make_job(
        owner, kind=Job.Kind.GENERATION, state=Job.State.SUCCEEDED, params={}
    )
    gallery = Gallery.objects.create(
        owner=owner, job=generation, model_version=model_version, n_images=0, seed=1
    )

    data = api_client.get(detail(training)).json()
    assert data["model_version"] == model_version.pk
    assert data["links"]["model_version"].endswith(
        f"/api/v1/model-versions/{model_version.pk}"
    )
    data = api_client.get(detail(generation)).json()
    assert data["gallery"] == gallery.pk
    assert data["links"]["gallery"].endswith(f"/api/v1/galleries/{gallery.pk}")
    listed = {
        item["id"]: item for item in api_client.get("/api/v1/jobs/").json()["results"]
    }
    assert listed[str(training.pk)]["model_version"] == model_version.pk
    assert listed[str(generation.pk)]["gallery"] == gallery.pk


def test_cancel_a_queued_job(api_client: APIClient, owner: User, make_job: Any) -> None:
    job = make_job(owner)
    response = api_client.post(detail(job) + "/cancel")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["queue_position"]) == (
        "cancelled",
        None,
    )
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED


def test_cancel_a_running_job_requests_it(
    api_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner, state=Job.State.RUNNING, attempts=1)
    response = api_client.post(detail(job) + "/cancel")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["cancel_requested"]) == (
        "running",
        True,
    )


@pytest.mark.parametrize(
    "state", [Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED]
)
def test_cancel_a_finished_job_is_a_409(
    api_client: APIClient, owner: User, state: str, make_job: Any
) -> None:
    job = make_job(owner, state=state)
    response = api_client.post(detail(job) + "/cancel")
    assert response.status_code == 409
    assert state in response.json()["detail"]
    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (state, False)


def test_cancel_needs_post(api_client: APIClient, owner: User, make_job: Any) -> None:
    job = make_job(owner)
    assert api_client.get(detail(job) + "/cancel").status_code == 405


def test_jobs_cannot_be_written_through_the_jobs_endpoint(
    api_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    assert api_client.post("/api/v1/jobs/", {}, format="json").status_code == 405
    # Only the name can change, and a queued job cannot be deleted.
    patched = api_client.patch(detail(job), {"state": "succeeded"}, format="json")
    assert patched.status_code == 400
    assert patched.json() == {
        "name": ["This field is required."],
        "state": ["Only the name can be changed."],
    }
    put = api_client.put(detail(job), {"name": "x"}, format="json")
    assert put.status_code == 405
    assert api_client.delete(detail(job)).status_code == 409
    job.refresh_from_db()
    assert (job.state, job.name) == (Job.State.QUEUED, "a run")
