"""Who may open which page: owners 200, anonymous visitors to the login page,
other users 404 (as in the API)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(
    owner: User, make_model_version: Any, make_gallery: Any, make_job: Any
) -> Any:
    model = make_model_version(owner)
    gallery = make_gallery(owner, model, digit=3)
    job = make_job(owner)
    return {"model": model, "gallery": gallery, "job": job}


def owner_pages(objects: Any) -> list[str]:
    return [
        "/dashboard/",
        "/training/new/",
        f"/jobs/{objects['job'].pk}/",
        f"/jobs/{objects['gallery'].job_id}/",
        f"/models/{objects['model'].pk}/",
        f"/galleries/{objects['gallery'].pk}/",
        "/history/",
        "/history/?tab=models",
        "/history/?tab=galleries",
        "/compare/",
        "/account/token/",
        "/account/password/",
    ]


def test_owner_gets_every_page(owner_client: Client, objects: Any) -> None:
    for url in owner_pages(objects):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert b"<main" in response.content


def test_anonymous_visitors_are_sent_to_the_login_page(objects: Any) -> None:
    client = Client()
    for url in owner_pages(objects):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


@pytest.mark.parametrize(
    "method_and_url",
    [
        lambda o: ("get", f"/jobs/{o['job'].pk}/"),
        lambda o: ("post", f"/jobs/{o['job'].pk}/cancel/"),
        lambda o: ("get", f"/models/{o['model'].pk}/"),
        lambda o: ("post", f"/models/{o['model'].pk}/set-default/"),
        lambda o: ("post", f"/models/{o['model'].pk}/generate/"),
        lambda o: ("get", f"/galleries/{o['gallery'].pk}/"),
        lambda o: ("get", f"/compare/?ids={o['model'].pk}"),
    ],
)
def test_other_users_objects_are_404(
    other_client_web: Client, objects: Any, method_and_url: Any
) -> None:
    method, url = method_and_url(objects)
    if method == "post":
        response = other_client_web.post(url, {"n_images": "4"})
    else:
        response = other_client_web.get(url)
    assert response.status_code == 404
    job = objects["job"]
    job.refresh_from_db()
    assert not job.cancel_requested
    assert Job.objects.count() == 2


def test_other_users_runs_are_not_listed(
    other_client_web: Client, objects: Any
) -> None:
    for url in ["/dashboard/", "/history/?kind=all", "/history/?tab=models"]:
        content = other_client_web.get(url).content.decode()
        assert str(objects["job"].pk) not in content, url
        assert f"/models/{objects['model'].pk}/" not in content, url
    content = other_client_web.get("/history/?tab=galleries").content.decode()
    assert f"/galleries/{objects['gallery'].pk}/" not in content


def test_public_demo_model_is_readable_but_not_the_others_to_change(
    owner: User, other_user: User, make_model_version: Any, client_of: Any
) -> None:
    demo = make_model_version(other_user, is_public=True)
    client = client_of(owner)
    response = client.get(f"/models/{demo.pk}/")
    assert response.status_code == 200
    assert b"Set as default" not in response.content
    assert client.post(f"/models/{demo.pk}/set-default/").status_code == 404
    demo.refresh_from_db()
    assert demo.is_default


def test_pages_only_accept_their_methods(owner_client: Client, objects: Any) -> None:
    assert owner_client.get(f"/jobs/{objects['job'].pk}/cancel/").status_code == 405
    assert owner_client.post("/dashboard/").status_code == 405
    model = objects["model"]
    assert owner_client.get(f"/models/{model.pk}/generate/").status_code == 405
