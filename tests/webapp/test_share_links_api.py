from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from webapp.gallery.models import Gallery
from webapp.sharing.models import ShareLink
from webapp.sharing.services import token_digest

pytestmark = pytest.mark.django_db

SHARE_URL = re.compile(r"^http://testserver/s/([A-Za-z0-9_-]{43})/$")


def share(client: APIClient, path: str) -> Any:
    return client.post(path, format="json")


def token_of(url: str) -> str:
    match = SHARE_URL.match(url)
    assert match is not None, url
    return match.group(1)


def test_anonymous_gets_401(anonymous_client: APIClient, gallery: Gallery) -> None:
    link = ShareLink.objects.create(
        owner=gallery.owner, token_digest="0" * 64, gallery=gallery
    )
    for method, url in (
        ("post", f"/api/v1/galleries/{gallery.pk}/share"),
        ("post", f"/api/v1/model-versions/{gallery.model_version_id}/share"),
        ("get", "/api/v1/share-links/"),
        ("get", f"/api/v1/share-links/{link.pk}"),
        ("delete", f"/api/v1/share-links/{link.pk}"),
    ):
        assert getattr(anonymous_client, method)(url).status_code == 401, url
    assert list(ShareLink.objects.values_list("pk", flat=True)) == [link.pk]


def test_owner_shares_a_gallery(api_client: APIClient, gallery: Gallery) -> None:
    response = share(api_client, f"/api/v1/galleries/{gallery.pk}/share")
    assert response.status_code == 201
    data = response.json()
    token = token_of(data["url"])
    link = ShareLink.objects.get()
    assert data == {
        "id": link.pk,
        "url": data["url"],
        "target": "gallery",
        "gallery": gallery.pk,
        "model_version": None,
        "title": gallery.title,
        "created_at": data["created_at"],
    }
    assert (link.owner_id, link.gallery_id) == (gallery.owner_id, gallery.pk)
    # Only the token's hash is kept.
    assert link.token_digest == token_digest(token) != token


def test_owner_shares_a_model_version(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    response = share(api_client, f"/api/v1/model-versions/{model_version.pk}/share/")
    assert response.status_code == 201
    data = response.json()
    token_of(data["url"])
    assert (data["target"], data["model_version"], data["gallery"]) == (
        "model_version",
        model_version.pk,
        None,
    )
    assert data["title"] == str(model_version)
    assert ShareLink.objects.get().model_version_id == model_version.pk


def test_every_link_gets_its_own_token(api_client: APIClient, gallery: Gallery) -> None:
    urls = {
        share(api_client, f"/api/v1/galleries/{gallery.pk}/share").json()["url"]
        for _ in range(3)
    }
    assert len(urls) == 3
    assert ShareLink.objects.count() == 3


def test_other_user_cannot_share_what_is_not_theirs(
    other_client: APIClient, owner: User, gallery: Gallery, make_model_version: Any
) -> None:
    public = make_model_version(owner, is_public=True)
    for url in (
        f"/api/v1/galleries/{gallery.pk}/share",
        f"/api/v1/model-versions/{gallery.model_version_id}/share",
        # Public means others may read it, not hand out links to it.
        f"/api/v1/model-versions/{public.pk}/share",
        "/api/v1/galleries/999999/share",
    ):
        assert share(other_client, url).status_code == 404, url
    assert not ShareLink.objects.exists()


def test_list_shows_own_links_without_their_tokens(
    api_client: APIClient, other_client: APIClient, gallery: Gallery
) -> None:
    created = share(api_client, f"/api/v1/galleries/{gallery.pk}/share").json()
    listed = api_client.get("/api/v1/share-links/").json()["results"]
    assert listed == [{**created, "url": None}]
    detail = api_client.get(f"/api/v1/share-links/{created['id']}").json()
    assert detail == {**created, "url": None}
    assert other_client.get("/api/v1/share-links/").json()["results"] == []
    assert other_client.get(f"/api/v1/share-links/{created['id']}").status_code == 404


def test_revoking_closes_the_link(
    api_client: APIClient, anonymous_client: APIClient, gallery: Gallery
) -> None:
    created = share(api_client, f"/api/v1/galleries/{gallery.pk}/share").json()
    path = created["url"].removeprefix("http://testserver")
    assert anonymous_client.get(path).status_code == 200

    response = api_client.delete(f"/api/v1/share-links/{created['id']}")
    assert response.status_code == 204
    assert not ShareLink.objects.exists()
    assert anonymous_client.get(path).status_code == 404
    assert Gallery.objects.filter(pk=gallery.pk).exists()


def test_other_user_cannot_revoke(
    api_client: APIClient, other_client: APIClient, gallery: Gallery
) -> None:
    created = share(api_client, f"/api/v1/galleries/{gallery.pk}/share").json()
    response = other_client.delete(f"/api/v1/share-links/{created['id']}")
    assert response.status_code == 404
    assert ShareLink.objects.filter(pk=created["id"]).exists()


def test_deleting_the_gallery_deletes_its_links(
    api_client: APIClient, gallery: Gallery
) -> None:
    share(api_client, f"/api/v1/galleries/{gallery.pk}/share")
    assert api_client.delete(f"/api/v1/galleries/{gallery.pk}").status_code == 204
    assert not ShareLink.objects.exists()
