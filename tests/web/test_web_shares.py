from __future__ import annotations

import hashlib
import io
import re
import zipfile
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.web.gallery_html import download_links, inline_pngs
from webapp.gallery.models import Gallery
from webapp.jobs.models import ModelVersion
from webapp.sharing.models import ShareLink
from webapp.sharing.services import create_share_link

pytestmark = pytest.mark.django_db

NOINDEX = '<meta name="robots" content="noindex, nofollow">'


@pytest.fixture
def model_version(owner: User, make_model_version: Any) -> ModelVersion:
    return make_model_version(owner)


@pytest.fixture
def gallery(owner: User, model_version: ModelVersion, make_gallery: Any) -> Gallery:
    return make_gallery(owner, model_version, n_images=3, digit=4)


def share(shared: Gallery | ModelVersion) -> str:
    """The share page's path of a new link."""
    return f"/s/{create_share_link(shared)[1]}/"


def assert_unindexed(response: Any) -> None:
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    # Revalidated each time: a revoked link does not live on in a cache.
    assert response["Cache-Control"] == "private, no-cache"


def test_anyone_sees_a_shared_gallery(gallery: Gallery) -> None:
    path = share(gallery)
    response = Client().get(path)
    assert response.status_code == 200
    assert_unindexed(response)
    html = response.content.decode()
    assert NOINDEX in html
    assert "Shared gallery, read-only" in html
    images = list(gallery.images.order_by("index"))
    assert inline_pngs(html) == [bytes(image.png) for image in images]
    image_urls = download_links(html)
    assert image_urls == [f"{path}images/{image.pk}.png" for image in images]
    assert 'class="tile-id"' not in html  # image ids are for the owner's walks
    for url in image_urls:
        image = Client().get(url)
        assert (image.status_code, image["Content-Type"]) == (200, "image/png")
        assert_unindexed(image)
    sheet = Client().get(f"{path}sheet.png")
    assert (sheet.status_code, sheet["Content-Type"]) == (200, "image/png")
    archive = Client().get(f"{path}images.zip")
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert len(names) == 4
    assert "gallery.json" in names


def test_a_shared_gallery_has_no_edit_controls_nor_links_to_the_owners_things(
    gallery: Gallery,
) -> None:
    html = Client().get(share(gallery)).content.decode()
    assert "<form" not in html
    for private in (
        f"/galleries/{gallery.pk}/",
        f"/models/{gallery.model_version_id}/",
        f"/jobs/{gallery.job_id}/",
        "/api/v1/",
        "Rename",
        "Delete",
        "Share links",
    ):
        assert private not in html, private


def test_anyone_sees_a_shared_model(model_version: ModelVersion) -> None:
    path = share(model_version)
    response = Client().get(path)
    assert response.status_code == 200
    assert_unindexed(response)
    html = response.content.decode()
    assert NOINDEX in html
    assert "Shared model, read-only" in html
    assert "Explained variance" in html
    assert html.count('class="digit-img" src="data:image/png;base64,') == 16
    assert f'data-samples-url="{path}samples/"' in html
    assert "<form" not in html
    for private in (f"/models/{model_version.pk}/", "/api/v1/", "Set as default"):
        assert private not in html, private

    download = Client().get(f"{path}model.npz")
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == model_version.model_sha256
    samples = Client().get(f"{path}samples/")
    assert samples.status_code == 200
    assert samples.content.decode().count('class="digit-img"') == 16


def test_drawing_shared_samples_is_throttled_like_generate(
    model_version: ModelVersion, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"generate": "2/minute"},
    }
    path = f"{share(model_version)}samples/"
    visitor = Client()
    codes = [visitor.get(path).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert visitor.get(path)["Retry-After"]


def test_unknown_and_revoked_tokens_are_404(gallery: Gallery) -> None:
    path = share(gallery)
    image = gallery.images.first()
    assert image is not None
    ShareLink.objects.all().delete()
    unknown = "/s/" + "A" * 43 + "/"
    for base in (path, unknown):
        for url in (
            base,
            f"{base}images/{image.pk}.png",
            f"{base}sheet.png",
            f"{base}images.zip",
            f"{base}model.npz",
            f"{base}samples/",
        ):
            assert Client().get(url).status_code == 404, url


def test_a_gallery_token_opens_nothing_else(
    owner: User,
    other_user: User,
    gallery: Gallery,
    model_version: ModelVersion,
    make_gallery: Any,
    make_model_version: Any,
) -> None:
    path = share(gallery)
    own_other = make_gallery(owner, model_version, n_images=2)
    foreign = make_gallery(other_user, make_model_version(other_user), n_images=2)
    for image in [*own_other.images.all(), *foreign.images.all()]:
        assert Client().get(f"{path}images/{image.pk}.png").status_code == 404
    # Nor the model that made the shared gallery's images.
    assert Client().get(f"{path}model.npz").status_code == 404
    assert Client().get(f"{path}samples/").status_code == 404
    # The token is no login: the owner's pages and API stay closed.
    anonymous = Client()
    anonymous.get(path)
    assert anonymous.get(f"/galleries/{gallery.pk}/").status_code == 302
    assert anonymous.get(f"/models/{model_version.pk}/").status_code == 302
    assert anonymous.get(f"/api/v1/galleries/{gallery.pk}").status_code == 401


def test_a_model_token_opens_no_gallery(
    model_version: ModelVersion, gallery: Gallery
) -> None:
    path = share(model_version)
    image = gallery.images.first()
    assert image is not None
    for url in (
        f"{path}images/{image.pk}.png",
        f"{path}sheet.png",
        f"{path}images.zip",
    ):
        assert Client().get(url).status_code == 404, url


def test_share_pages_only_answer_get(gallery: Gallery) -> None:
    path = share(gallery)
    assert Client().post(path).status_code == 405
    assert Client().get(path).status_code == 200


def test_owner_creates_sees_once_and_revokes_a_gallery_link(
    owner_client: Client, gallery: Gallery
) -> None:
    page = f"/galleries/{gallery.pk}/"
    assert "No share links." in owner_client.get(page).content.decode()
    response = owner_client.post(f"/galleries/{gallery.pk}/share/", follow=True)
    html = response.content.decode()
    match = re.search(r'id="new-share-url" class="share-url" value="([^"]+)"', html)
    assert match is not None
    url = match.group(1)
    assert re.fullmatch(r"http://testserver/s/[A-Za-z0-9_-]{43}/", url)
    link = ShareLink.objects.get()
    assert (link.owner_id, link.gallery_id) == (gallery.owner_id, gallery.pk)
    assert f"Link #{link.pk}" in html
    # Shown once: the table holds only the token's hash.
    assert url not in owner_client.get(page).content.decode()
    assert Client().get(url).status_code == 200

    response = owner_client.post(f"/share-links/{link.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == page
    assert not ShareLink.objects.exists()
    assert Client().get(url).status_code == 404


def test_owner_creates_a_model_link_from_its_page(
    owner_client: Client, model_version: ModelVersion
) -> None:
    response = owner_client.post(f"/models/{model_version.pk}/share/", follow=True)
    assert 'id="new-share-url"' in response.content.decode()
    assert ShareLink.objects.get().model_version_id == model_version.pk


def test_others_can_neither_create_nor_revoke(
    other_client_web: Client, owner_client: Client, gallery: Gallery
) -> None:
    assert other_client_web.post(f"/galleries/{gallery.pk}/share/").status_code == 404
    assert (
        other_client_web.post(f"/models/{gallery.model_version_id}/share/").status_code
        == 404
    )
    assert not ShareLink.objects.exists()
    owner_client.post(f"/galleries/{gallery.pk}/share/")
    link = ShareLink.objects.get()
    assert other_client_web.post(f"/share-links/{link.pk}/revoke/").status_code == 404
    assert ShareLink.objects.filter(pk=link.pk).exists()


def test_anonymous_is_sent_to_log_in_to_share(gallery: Gallery) -> None:
    response = Client().post(f"/galleries/{gallery.pk}/share/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert not ShareLink.objects.exists()
