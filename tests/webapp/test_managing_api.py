"""Managing one's own runs through the API: rename (PATCH name), delete, run again;
and the API root that lists every endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.webapp.job_rows import stored_gallery
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import services
from webapp.jobs.models import Job, ModelVersion

pytestmark = pytest.mark.django_db


def urls(objects: dict[str, Any]) -> dict[str, str]:
    return {
        "job": f"/api/v1/jobs/{objects['job'].pk}",
        "model": f"/api/v1/model-versions/{objects['model'].pk}",
        "gallery": f"/api/v1/galleries/{objects['gallery'].pk}",
    }


@pytest.fixture
def objects(owner: User, gallery: Gallery, make_job: Any) -> dict[str, Any]:
    job = make_job(owner, state=Job.State.SUCCEEDED, name="batch 7")
    return {"job": job, "model": gallery.model_version, "gallery": gallery}


# --- Rename ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["job", "model", "gallery"])
def test_owner_renames_with_patch(
    api_client: APIClient, objects: dict[str, Any], kind: str
) -> None:
    url = urls(objects)[kind]
    response = api_client.patch(url, {"name": "  batch 13  "}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "batch 13"
    assert api_client.get(url).json()["name"] == "batch 13"
    row = objects[kind]
    row.refresh_from_db()
    assert row.name == "batch 13"


@pytest.mark.parametrize("kind", ["job", "model", "gallery"])
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        (
            {"name": "x" * 101},
            {"name": ["Ensure this field has no more than 100 characters."]},
        ),
        ({}, {"name": ["This field is required."]}),
        (
            {"name": "ok", "is_public": True},
            {"is_public": ["Only the name can be changed."]},
        ),
    ],
)
def test_a_bad_rename_is_400_and_changes_nothing(
    api_client: APIClient,
    objects: dict[str, Any],
    kind: str,
    body: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    row = objects[kind]
    before = row.name
    response = api_client.patch(urls(objects)[kind], body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    row.refresh_from_db()
    assert row.name == before
    if kind == "model":
        assert not row.is_public


@pytest.mark.parametrize("kind", ["job", "model", "gallery"])
def test_other_users_cannot_rename_or_delete(
    other_client: APIClient,
    anonymous_client: APIClient,
    objects: dict[str, Any],
    kind: str,
) -> None:
    url = urls(objects)[kind]
    assert other_client.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert other_client.delete(url).status_code == 404
    assert anonymous_client.patch(url, {"name": "x"}, format="json").status_code == 401
    assert anonymous_client.delete(url).status_code == 401
    row = objects[kind]
    row.refresh_from_db()
    assert row.name != "mine"


def test_the_public_demo_is_not_anyone_elses_to_rename_or_delete(
    other_client: APIClient, owner: User, make_model_version: Any
) -> None:
    demo = make_model_version(owner, is_public=True, name="demo")
    url = f"/api/v1/model-versions/{demo.pk}"
    assert other_client.get(url).status_code == 200
    assert other_client.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert other_client.delete(url).status_code == 404
    assert ModelVersion.objects.get(pk=demo.pk).name == "demo"


# --- Delete ---------------------------------------------------------------------------


def test_deleting_a_finished_job_keeps_what_it_made(
    api_client: APIClient, objects: dict[str, Any]
) -> None:
    gallery = objects["gallery"]
    generation = gallery.job
    assert api_client.delete(f"/api/v1/jobs/{generation.pk}").status_code == 204
    assert not Job.objects.filter(pk=generation.pk).exists()
    gallery.refresh_from_db()
    assert gallery.job is None
    assert gallery.images.count() == 5
    data = api_client.get(f"/api/v1/galleries/{gallery.pk}").json()
    assert data["job"] is None
    assert len(data["images"]) == 5


@pytest.mark.parametrize("state", [Job.State.QUEUED, Job.State.RUNNING])
def test_an_unfinished_job_must_be_cancelled_first(
    api_client: APIClient, owner: User, make_job: Any, state: str
) -> None:
    job = make_job(owner, state=state)
    response = api_client.delete(f"/api/v1/jobs/{job.pk}")
    assert response.status_code == 409
    assert response.json() == {"detail": f"The job is still {state}: cancel it first."}
    assert Job.objects.filter(pk=job.pk, state=state).exists()


def test_deleting_a_gallery_deletes_its_images(
    api_client: APIClient, objects: dict[str, Any]
) -> None:
    gallery = objects["gallery"]
    image = gallery.images.first()
    assert api_client.delete(f"/api/v1/galleries/{gallery.pk}").status_code == 204
    assert not Gallery.objects.filter(pk=gallery.pk).exists()
    assert not GeneratedImage.objects.filter(gallery_id=gallery.pk).exists()
    assert api_client.get(f"/api/v1/images/{image.pk}.png").status_code == 404
    # The job that made it stays, without a result.
    job = api_client.get(f"/api/v1/jobs/{gallery.job_id}").json()
    assert (job["state"], job["gallery"]) == ("succeeded", None)


def test_deleting_the_default_model_promotes_the_newest_remaining_one(
    api_client: APIClient, owner: User, make_model_version: Any, make_gallery_of: Any
) -> None:
    oldest = make_model_version(owner)
    newest = make_model_version(owner)
    default = make_model_version(owner)
    assert ModelVersion.objects.get(owner=owner, is_default=True) == oldest
    api_client.post(f"/api/v1/model-versions/{default.pk}/set-default")
    gallery = make_gallery_of(owner, default)

    assert api_client.delete(f"/api/v1/model-versions/{default.pk}").status_code == 204

    assert not ModelVersion.objects.filter(pk=default.pk).exists()
    assert list(ModelVersion.objects.filter(is_default=True)) == [newest]
    gallery.refresh_from_db()
    assert gallery.model_version is None
    assert gallery.images.count() == 2
    data = api_client.get(f"/api/v1/galleries/{gallery.pk}").json()
    assert (data["model_version"], data["model_version_settings"]) == (None, None)
    # Another version than the default goes alone.
    assert api_client.delete(f"/api/v1/model-versions/{oldest.pk}").status_code == 204
    assert list(ModelVersion.objects.filter(is_default=True)) == [newest]
    # The last one leaves no default.
    assert api_client.delete(f"/api/v1/model-versions/{newest.pk}").status_code == 204
    assert not ModelVersion.objects.exists()
    generated = api_client.post("/api/v1/generations", {}, format="json")
    assert generated.status_code == 400
    assert "no default model version" in generated.json()["model_version"][0]


@pytest.fixture
def make_gallery_of() -> Any:
    """A gallery of two images from a model version, without running a job."""

    def make(owner: User, model_version: ModelVersion) -> Gallery:
        return stored_gallery(owner, model_version, [b"png-0", b"png-1"])

    return make


# --- Run again ------------------------------------------------------------------------


def test_rerun_queues_the_same_training_settings(
    api_client: APIClient,
    owner: User,
    make_job: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    params = services.validate_training_settings(
        {"n_components": 12, "kernel": "cosine", "seed": 9}, preset="preview"
    )
    finished = make_job(owner, state=Job.State.FAILED, name="batch 7", params=params)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/v1/jobs/{finished.pk}/rerun")
    assert response.status_code == 202
    data = response.json()
    assert response["Location"] == data["url"]
    again = Job.objects.get(pk=data["id"])
    assert again.pk != finished.pk
    assert (again.kind, again.state, again.name, again.params) == (
        "training",
        "queued",
        "batch 7",
        params,
    )
    assert dispatched.job_ids == [again.pk]


def test_rerun_of_a_generation_repeats_its_request(
    api_client: APIClient,
    objects: dict[str, Any],
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    generation = objects["gallery"].job
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/v1/jobs/{generation.pk}/rerun")
    assert response.status_code == 202
    again = Job.objects.get(pk=response.json()["id"])
    assert (again.kind, again.params) == ("generation", generation.params)
    assert dispatched.job_ids == [again.pk]


def test_rerun_refuses_what_cannot_run_again(
    api_client: APIClient,
    other_client: APIClient,
    owner: User,
    make_job: Any,
    objects: dict[str, Any],
) -> None:
    running = make_job(owner, state=Job.State.RUNNING)
    response = api_client.post(f"/api/v1/jobs/{running.pk}/rerun")
    assert response.status_code == 409
    assert "still running" in response.json()["detail"]
    generation = objects["gallery"].job
    assert other_client.post(f"/api/v1/jobs/{generation.pk}/rerun").status_code == 404
    objects["model"].delete()
    response = api_client.post(f"/api/v1/jobs/{generation.pk}/rerun")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "The model version it generated from no longer exists."
    }
    assert Job.objects.count() == 3


def test_rerun_respects_the_active_jobs_limit(
    api_client: APIClient, owner: User, make_job: Any, settings: Any
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    make_job(owner)
    finished = make_job(owner, state=Job.State.SUCCEEDED)
    response = api_client.post(f"/api/v1/jobs/{finished.pk}/rerun")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert Job.objects.count() == 2


# --- The API root ---------------------------------------------------------------------


def test_the_api_root_lists_every_endpoint(anonymous_client: APIClient) -> None:
    response = anonymous_client.get("/api/v1/")
    assert response.status_code == 200
    base = "http://testserver/api/v1/"
    assert response.json() == {
        "training-runs": base + "training-runs",
        "generations": base + "generations",
        "jobs": base + "jobs",
        "model-versions": base + "model-versions",
        "galleries": base + "galleries",
        "sweeps": base + "sweeps",
        "share-links": base + "share-links",
        "auth/register": base + "auth/register",
        "auth/token": base + "auth/token",
    }
