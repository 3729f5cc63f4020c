from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image

from tests.web.gallery_html import inline_pngs
from webapp.gallery.models import Gallery
from webapp.jobs import runner, services
from webapp.jobs.models import Job, ModelVersion
from webapp.sharing.services import create_share_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_version(owner: User, make_model_version: Any) -> ModelVersion:
    return make_model_version(owner)


@pytest.fixture
def walk_gallery(owner: User, model_version: ModelVersion) -> Gallery:
    job = services.create_generation_job(
        owner,
        model_version=model_version,
        n_images=6,
        seed=3,
        walk={"from_digit": 1, "to_digit": 7, "from_image": None, "to_image": None},
    )
    runner.run_generation_job(job.pk)
    return Gallery.objects.get(job=job)


def test_the_model_page_offers_walks(
    owner_client: Client,
    owner: User,
    model_version: ModelVersion,
    make_model_version: Any,
) -> None:
    html = owner_client.get(f"/models/{model_version.pk}/").content.decode()
    assert 'name="mode" value="walk"' in html
    for field in ("from_digit", "to_digit", "from_image", "to_image"):
        assert f'name="{field}"' in html, field
    plain = make_model_version(owner, class_conditional=False)
    html = owner_client.get(f"/models/{plain.pk}/").content.decode()
    assert 'name="from_image"' in html
    assert 'name="from_digit"' not in html


def test_the_form_queues_a_walk(
    owner_client: Client, model_version: ModelVersion, dispatched: Any
) -> None:
    response = owner_client.post(
        f"/models/{model_version.pk}/generate/",
        {
            "mode": "walk",
            "n_images": "8",
            "temperature": "1.0",
            "from_digit": "2",
            "to_digit": "5",
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.params["walk"] == {
        "from_digit": 2,
        "to_digit": 5,
        "from_image": None,
        "to_image": None,
    }
    assert job.params["n_images"] == 8


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "walk", "n_images": "100"}, "A walk has 2 to 64 frames."),
        ({"mode": "samples", "n_images": "4", "from_image": "5"}, "Only for"),
        ({"mode": "walk", "n_images": "4", "to_image": "999999"}, "no gallery image"),
    ],
)
def test_the_form_shows_the_apis_refusals(
    owner_client: Client,
    model_version: ModelVersion,
    dispatched: Any,
    fields: dict[str, str],
    message: str,
) -> None:
    response = owner_client.post(
        f"/models/{model_version.pk}/generate/", {"temperature": "1.0", **fields}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_a_walk_shows_as_a_strip_with_its_gif(
    owner_client: Client, walk_gallery: Gallery
) -> None:
    html = owner_client.get(f"/galleries/{walk_gallery.pk}/").content.decode()
    assert 'class="image-strip" id="gallery-images"' in html
    gif_url = f"/api/v1/galleries/{walk_gallery.pk}/walk.gif"
    assert f'id="walk-gif" src="{gif_url}"' in html
    assert "from digit 1 to digit 7, 6 frames" in html
    frames = walk_gallery.images.order_by("index")
    assert inline_pngs(html) == [bytes(frame.png) for frame in frames]
    assert len(frames) == 6
    gif = owner_client.get(gif_url)
    assert gif["Content-Type"] == "image/gif"
    assert Image.open(io.BytesIO(gif.content)).n_frames == 10


def test_the_job_page_says_where_the_walk_goes(
    owner_client: Client, walk_gallery: Gallery
) -> None:
    html = owner_client.get(f"/jobs/{walk_gallery.job_id}/").content.decode()
    assert '<dd id="job-walk">6 frames from digit 1 to digit 7</dd>' in html


def test_samples_stay_a_grid_without_a_gif(
    owner_client: Client, owner: User, model_version: ModelVersion, make_gallery: Any
) -> None:
    gallery = make_gallery(owner, model_version)
    html = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    assert 'class="image-grid image-grid-large" id="gallery-images"' in html
    assert "walk.gif" not in html


def test_a_walk_between_two_gallery_images_from_the_gallery_page(
    owner_client: Client,
    owner: User,
    model_version: ModelVersion,
    make_gallery: Any,
    dispatched: Any,
) -> None:
    gallery = make_gallery(owner, model_version, n_images=3)
    first, _, last = gallery.images.all()
    html = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    assert 'id="walk-form"' in html
    assert f'<option value="{last.pk}" selected>' in html
    response = owner_client.post(
        f"/models/{model_version.pk}/generate/",
        {
            "mode": "walk",
            "temperature": "1.0",
            "from_image": str(first.pk),
            "to_image": str(last.pk),
            "n_images": "16",
        },
    )
    assert response.status_code == 302
    assert Job.objects.get(state="queued").params["walk"] == {
        "from_digit": None,
        "to_digit": None,
        "from_image": first.pk,
        "to_image": last.pk,
    }


def test_a_shared_walk_shows_its_gif_through_the_token(walk_gallery: Gallery) -> None:
    token = create_share_link(walk_gallery)[1]
    html = Client().get(f"/s/{token}/").content.decode()
    assert f'id="walk-gif" src="/s/{token}/walk.gif"' in html
    assert "walk-form" not in html
    assert "#" + str(walk_gallery.images.first().pk) not in html  # type: ignore[union-attr]
    gif = Client().get(f"/s/{token}/walk.gif")
    assert (gif.status_code, gif["Content-Type"]) == (200, "image/gif")
    assert gif["X-Robots-Tag"] == "noindex, nofollow"


def test_a_shared_sample_gallery_has_no_gif(
    owner: User, model_version: ModelVersion, make_gallery: Any
) -> None:
    token = create_share_link(make_gallery(owner, model_version))[1]
    assert Client().get(f"/s/{token}/walk.gif").status_code == 404
