from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image
from rest_framework.test import APIClient

from webapp.gallery.models import Gallery

pytestmark = pytest.mark.django_db


def detail(gallery: Gallery) -> str:
    return f"/api/v1/galleries/{gallery.pk}"


def open_png(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def test_anonymous_gets_401(anonymous_client: APIClient, gallery: Gallery) -> None:
    image = gallery.images.first()
    assert image is not None
    for url in (
        "/api/v1/galleries/",
        detail(gallery),
        detail(gallery) + "/grid.png",
        detail(gallery) + "/download",
        f"/api/v1/images/{image.pk}.png",
    ):
        assert anonymous_client.get(url).status_code == 401, url


def test_other_user_gets_404_everywhere(
    other_client: APIClient, gallery: Gallery
) -> None:
    image = gallery.images.first()
    assert image is not None
    for url in (
        detail(gallery),
        detail(gallery) + "/grid.png",
        detail(gallery) + "/download",
        f"/api/v1/images/{image.pk}.png",
    ):
        assert other_client.get(url).status_code == 404, url
    assert other_client.get("/api/v1/galleries/").json()["results"] == []


def test_owner_reads_the_gallery_with_image_urls(
    api_client: APIClient, gallery: Gallery
) -> None:
    response = api_client.get(detail(gallery))
    assert response.status_code == 200
    data = response.json()
    assert (data["n_images"], data["digit"], data["seed"], data["temperature"]) == (
        5,
        2,
        40,
        1.0,
    )
    assert data["job"] == str(gallery.job_id)
    assert data["model_version_settings"]["class_conditional"] is True
    assert [image["index"] for image in data["images"]] == [0, 1, 2, 3, 4]
    assert [image["seed"] for image in data["images"]] == [40, 41, 42, 43, 44]
    for item in data["images"]:
        assert item["url"].endswith(f"/api/v1/images/{item['id']}.png")
        png = api_client.get(item["url"], HTTP_ACCEPT="image/png")
        assert png.status_code == 200
        assert png["Content-Type"] == "image/png"
        assert open_png(png.content).size == (8, 8)


def test_list_shows_own_galleries(api_client: APIClient, gallery: Gallery) -> None:
    data = api_client.get("/api/v1/galleries/").json()
    assert [item["id"] for item in data["results"]] == [gallery.pk]
    assert "images" not in data["results"][0]
    assert data["results"][0]["grid_url"].endswith(detail(gallery) + "/grid.png")


def test_grid_png_holds_every_image(api_client: APIClient, gallery: Gallery) -> None:
    response = api_client.get(detail(gallery) + "/grid.png?scale=2&columns=5")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    # Five 16-pixel tiles in one row with 2-pixel gaps.
    assert open_png(response.content).size == (5 * 16 + 4 * 2, 16)


@pytest.mark.parametrize("query", ["?scale=0", "?scale=9", "?scale=big", "?columns=0"])
def test_bad_grid_parameters_are_a_400(
    api_client: APIClient, gallery: Gallery, query: str
) -> None:
    response = api_client.get(detail(gallery) + "/grid.png" + query)
    assert response.status_code == 400


def test_download_is_a_zip_of_every_png(
    api_client: APIClient, gallery: Gallery
) -> None:
    response = api_client.get(detail(gallery) + "/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        pngs = [name for name in names if name.endswith(".png")]
        assert len(pngs) == 5
        for name in pngs:
            assert open_png(archive.read(name)).size == (8, 8)
        description = json.loads(archive.read("gallery.json"))
    assert description["seed"] == 40
    assert [item["file"] for item in description["images"]] == pngs


def test_unknown_image_is_a_404(api_client: APIClient) -> None:
    assert api_client.get("/api/v1/images/999999.png").status_code == 404


def test_created_filter_takes_an_offset_postgresql_refuses(
    api_client: APIClient, gallery: Gallery
) -> None:
    response = api_client.get(
        "/api/v1/galleries/?created_before=2000-01-01T00:00:00%2B23:30"
    )
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_galleries_filter_by_digit(api_client: APIClient, gallery: Gallery) -> None:
    response = api_client.get("/api/v1/galleries/?digit=3")
    assert response.json()["results"] == []
    response = api_client.get("/api/v1/galleries/?digit=2")
    assert [item["id"] for item in response.json()["results"]] == [gallery.pk]
