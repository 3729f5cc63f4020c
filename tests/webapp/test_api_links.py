"""Every URL the API's JSON carries, exactly: absolute, in the documented places,
null where there is nothing to link to."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

BASE = "http://testserver/api/v1"


def test_job_urls_before_and_after_its_result(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    job = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING)
    urls = {"url": f"{BASE}/jobs/{job.pk}"}
    links = {
        "self": f"{BASE}/jobs/{job.pk}",
        "cancel": f"{BASE}/jobs/{job.pk}/cancel",
        "model_version": None,
        "gallery": None,
    }
    data = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert (data["url"], data["links"]) == (urls["url"], links)
    listed = api_client.get("/api/v1/jobs/").json()["results"][0]
    assert (listed["url"], listed["links"]) == (urls["url"], links)

    model_version = make_model_version(owner, training_job=job)
    data = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert data["links"] == {
        **links,
        "model_version": f"{BASE}/model-versions/{model_version.pk}",
    }


def test_a_new_jobs_urls(api_client: APIClient, dispatched: Any) -> None:
    response = api_client.post(
        "/api/v1/training-runs", {"preset": "preview"}, format="json"
    )
    data = response.json()
    assert data["url"] == f"{BASE}/jobs/{data['id']}"
    assert data["links"] == {
        "self": f"{BASE}/jobs/{data['id']}",
        "cancel": f"{BASE}/jobs/{data['id']}/cancel",
        "model_version": None,
        "gallery": None,
    }


def test_model_version_urls(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    expected = {
        "url": f"{BASE}/model-versions/{model_version.pk}",
        "download_url": f"{BASE}/model-versions/{model_version.pk}/download",
    }
    for data in (
        api_client.get(f"/api/v1/model-versions/{model_version.pk}").json(),
        api_client.get("/api/v1/model-versions/").json()["results"][0],
    ):
        assert {key: data[key] for key in expected} == expected


@pytest.mark.parametrize("with_model_version", [True, False])
def test_gallery_and_image_urls(
    api_client: APIClient,
    owner: User,
    make_model_version: Any,
    with_model_version: bool,
) -> None:
    model_version = make_model_version(owner)
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION)
    gallery = Gallery.objects.create(
        owner=owner,
        job=job,
        model_version=model_version if with_model_version else None,
        n_images=1,
        seed=1,
    )
    image = GeneratedImage.objects.create(gallery=gallery, index=0, seed=1, png=b"")
    expected = {
        "url": f"{BASE}/galleries/{gallery.pk}",
        "model_version_url": f"{BASE}/model-versions/{model_version.pk}"
        if with_model_version
        else None,
        "grid_url": f"{BASE}/galleries/{gallery.pk}/grid.png",
        "download_url": f"{BASE}/galleries/{gallery.pk}/download",
    }
    data = api_client.get(f"/api/v1/galleries/{gallery.pk}").json()
    assert {key: data[key] for key in expected} == expected
    assert data["images"][0]["url"] == f"{BASE}/images/{image.pk}.png"
    listed = api_client.get("/api/v1/galleries/").json()["results"][0]
    assert {key: listed[key] for key in expected} == expected
