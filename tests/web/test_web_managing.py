"""Managing one's runs in the browser: rename, delete (after a confirmation page),
run again and search a wider grid; another user's ids stay 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from webapp.gallery.models import Gallery
from webapp.jobs import services
from webapp.jobs.models import Job, ModelVersion
from webapp.sharing.services import create_share_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(
    owner: User, make_model_version: Any, make_gallery: Any, make_job: Any
) -> dict[str, Any]:
    model = make_model_version(owner, name="batch 7")
    gallery = make_gallery(owner, model, n_images=3, digit=4)
    job = make_job(owner, state=Job.State.SUCCEEDED, name="batch 7")
    ModelVersion.objects.filter(pk=model.pk).update(training_job=job)
    return {"job": job, "model": model, "gallery": gallery}


def page_url(objects: dict[str, Any], kind: str) -> str:
    prefix = {"job": "jobs", "model": "models", "gallery": "galleries"}[kind]
    return f"/{prefix}/{objects[kind].pk}/"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize("kind", ["job", "model", "gallery"])
def test_owner_renames_from_the_page(
    owner_client: Client, objects: dict[str, Any], kind: str
) -> None:
    url = page_url(objects, kind)
    assert f'action="{url}rename/"' in owner_client.get(url).content.decode()
    response = owner_client.post(url + "rename/", {"name": " batch 13 "}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    row = objects[kind]
    row.refresh_from_db()
    assert row.name == "batch 13"
    assert "renamed “batch 13”" in messages_of(response)[0]
    assert "batch 13" in response.content.decode()


@pytest.mark.parametrize("kind", ["job", "model", "gallery"])
def test_a_blank_name_is_refused_with_the_apis_message(
    owner_client: Client, objects: dict[str, Any], kind: str
) -> None:
    row = objects[kind]
    before = row.name
    response = owner_client.post(
        page_url(objects, kind) + "rename/", {"name": "  "}, follow=True
    )
    assert messages_of(response) == ["Not renamed: This field may not be blank."]
    row.refresh_from_db()
    assert row.name == before


@pytest.mark.parametrize("kind", ["job", "model", "gallery"])
@pytest.mark.parametrize("action", ["rename/", "delete/"])
def test_other_users_rows_are_404(
    other_client_web: Client, objects: dict[str, Any], kind: str, action: str
) -> None:
    url = page_url(objects, kind) + action
    assert other_client_web.get(url).status_code in (404, 405)
    assert other_client_web.post(url, {"name": "mine"}).status_code == 404
    row = objects[kind]
    row.refresh_from_db()
    assert row.name != "mine"


def test_deleting_a_job_asks_first_and_keeps_its_model_version(
    owner_client: Client, objects: dict[str, Any]
) -> None:
    job, model = objects["job"], objects["model"]
    url = f"/jobs/{job.pk}/delete/"
    assert f'href="{url}"' in owner_client.get(f"/jobs/{job.pk}/").content.decode()
    confirm = owner_client.get(url)
    content = confirm.content.decode()
    assert "Delete the training job “batch 7”?" in content
    assert "The model version it trained stays." in content
    assert Job.objects.filter(pk=job.pk).exists()
    response = owner_client.post(url, follow=True)
    assert response.redirect_chain == [("/history/?kind=training", 302)]
    assert messages_of(response) == ["Job “batch 7” deleted."]
    assert not Job.objects.filter(pk=job.pk).exists()
    model.refresh_from_db()
    assert model.training_job is None


@pytest.mark.parametrize("state", [Job.State.QUEUED, Job.State.RUNNING])
def test_a_job_on_its_way_must_be_cancelled_before_deleting(
    owner: User, owner_client: Client, make_job: Any, state: str
) -> None:
    job = make_job(owner, state=state)
    for method in (owner_client.get, owner_client.post):
        response = method(f"/jobs/{job.pk}/delete/", follow=True)
        assert response.redirect_chain == [(f"/jobs/{job.pk}/", 302)]
        assert messages_of(response) == [f"The job is still {state}: cancel it first."]
    assert Job.objects.filter(pk=job.pk).exists()


def test_deleting_the_default_model_says_what_becomes_of_galleries_and_default(
    owner: User, owner_client: Client, objects: dict[str, Any], make_model_version: Any
) -> None:
    model, gallery = objects["model"], objects["gallery"]
    newer = make_model_version(owner, name="batch 8")
    url = f"/models/{model.pk}/delete/"
    content = owner_client.get(url).content.decode()
    assert "Delete the model version batch 7 v1?" in content
    assert (
        "Its 1 gallery stay, with their images, but no longer link to a model "
        "version." in content
    )
    assert f"your newest other one, {newer}, becomes the default" in content
    response = owner_client.post(url, follow=True)
    assert response.redirect_chain == [("/history/?tab=models", 302)]
    assert messages_of(response) == [
        "batch 7 v1 deleted. batch 8 v2 is now your default model."
    ]
    newer.refresh_from_db()
    assert newer.is_default
    gallery.refresh_from_db()
    assert gallery.model_version is None
    assert gallery.images.count() == 3
    content = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    assert "a model version that was deleted" in content
    # The last one: no default afterwards, and the page said so first.
    content = owner_client.get(f"/models/{newer.pk}/delete/").content.decode()
    assert "you will have no default until you train another" in content
    response = owner_client.post(f"/models/{newer.pk}/delete/", follow=True)
    assert messages_of(response) == [
        "batch 8 v2 deleted. You have no default model now."
    ]


def test_deleting_a_gallery_takes_its_images(
    owner_client: Client, objects: dict[str, Any]
) -> None:
    gallery = objects["gallery"]
    content = owner_client.get(f"/galleries/{gallery.pk}/delete/").content.decode()
    assert "Delete the gallery “3 images of digit 4”?" in content
    assert "Its 3 images go with it." in content
    response = owner_client.post(f"/galleries/{gallery.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/history/?tab=galleries", 302)]
    assert not Gallery.objects.filter(pk=gallery.pk).exists()
    # The generation job stays, and says its result is gone.
    content = owner_client.get(f"/jobs/{gallery.job_id}/").content.decode()
    assert "its gallery has since been deleted" in content


def test_run_again_opens_the_form_with_the_jobs_settings(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    params = services.validate_training_settings(
        {"kernel": "cosine", "n_components": 12, "bandwidth": 0.75, "seed": 9},
        preset="preview",
    )
    job = make_job(owner, state=Job.State.FAILED, name="cosine twelve", params=params)
    page = owner_client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/training/new/?job={job.pk}"' in page
    response = owner_client.get(f"/training/new/?job={job.pk}")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial == form.initial_from_settings(
        params, preset="", name="cosine twelve"
    )
    assert "The settings of “cosine twelve”, to run again." in response.content.decode()


@pytest.mark.parametrize("query", ["job=not-a-uuid", "model=x", "model=999999"])
def test_a_bad_or_foreign_source_for_the_form_is_404(
    owner_client: Client, other_client_web: Client, objects: dict[str, Any], query: str
) -> None:
    assert owner_client.get(f"/training/new/?{query}").status_code == 404
    job = objects["job"]
    assert other_client_web.get(f"/training/new/?job={job.pk}").status_code == 404


def test_a_bandwidth_at_the_grid_edge_is_flagged_with_a_wider_search(
    owner: User,
    owner_client: Client,
    make_model_version: Any,
    conditional_file: Any,
) -> None:
    metrics = {**conditional_file.metrics, "bandwidth": 0.2}
    metrics["bandwidth_grid_edge"] = "lower"
    settings = {
        **conditional_file.settings,
        "bandwidth_grid": {"start": 0.2, "stop": 2.0, "num": 3},
    }
    model = make_model_version(owner, metrics=metrics, settings=settings)
    job = Job.objects.create(
        owner=owner, kind="training", state="succeeded", params=settings, name="edge"
    )
    ModelVersion.objects.filter(pk=model.pk).update(training_job=job)
    wider = f'href="/training/new/?model={model.pk}&amp;grid=wider"'
    for url in (f"/models/{model.pk}/", f"/jobs/{job.pk}/"):
        content = owner_client.get(url).content.decode()
        assert re.search(r'id="grid-edge"[^>]*role="status" >', content), url
        assert (
            "0.2 is the smallest value tried, so the best bandwidth may be smaller: "
            "search 5 values from 0.02 to 2." in content
        ), url
        assert wider in content, url
    # A share page explains the edge but offers no training run to its visitor.
    content = Client().get(f"/s/{create_share_link(model)[1]}/").content.decode()
    assert "0.2 is the smallest value tried" in content
    assert "grid=wider" not in content
    assert "Search a wider grid" not in content
    response = owner_client.get(f"/training/new/?model={model.pk}&grid=wider")
    initial = response.context["form"].initial
    assert (initial["grid_start"], initial["grid_stop"], initial["grid_num"]) == (
        "0.02",
        "2",
        "5",
    )
    assert "with a wider bandwidth grid: 5 values from 0.02 to 2." in (
        response.content.decode()
    )
    # Inside the grid: no flag.
    inside = {**conditional_file.metrics, "bandwidth_grid_edge": None}
    plain = make_model_version(owner, metrics=inside)
    content = owner_client.get(f"/models/{plain.pk}/").content.decode()
    assert re.search(r'id="grid-edge"[^>]*hidden', content)
