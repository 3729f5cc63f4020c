from __future__ import annotations

import io
import itertools
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from PIL import Image
from rest_framework.test import APIClient

from webapp.gallery.models import Gallery, GeneratedImage
from webapp.gallery.services import decode_png
from webapp.jobs import runner, services
from webapp.jobs.models import Job, ModelVersion

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def model_version(owner: User, make_model_version: Any) -> ModelVersion:
    return make_model_version(owner)


def walk(client: APIClient, **fields: Any) -> Any:
    return client.post(URL, {"mode": "walk", **fields}, format="json")


def run(job_id: Any) -> Gallery:
    runner.run_generation_job(job_id)
    return Gallery.objects.get(job_id=job_id)


def test_a_walk_between_two_digits_is_queued_with_its_end_points(
    api_client: APIClient,
    model_version: ModelVersion,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = walk(api_client, n_images=12, from_digit=3, to_digit=8, seed=5)
    assert response.status_code == 202, response.json()
    job = Job.objects.get()
    assert job.params == {
        "model_version": model_version.pk,
        "n_images": 12,
        "digit": None,
        "seed": 5,
        "temperature": 1.0,
        "mode": "walk",
        "walk": {"from_digit": 3, "to_digit": 8, "from_image": None, "to_image": None},
    }
    assert job.name == f"Walk of 12 frames from {model_version}"
    assert dispatched.job_ids == [job.pk]


def test_running_a_walk_stores_its_frames_as_a_gallery(
    api_client: APIClient, model_version: ModelVersion, dispatched: Any
) -> None:
    response = walk(api_client, n_images=10, from_digit=0, to_digit=6, seed=9)
    gallery = run(response.json()["id"])
    assert (gallery.mode, gallery.n_images, gallery.digit, gallery.seed) == (
        "walk",
        10,
        None,
        9,
    )
    assert gallery.walk == {
        "from_digit": 0,
        "to_digit": 6,
        "from_image": None,
        "to_image": None,
    }
    assert gallery.title == "Walk from digit 0 to digit 6 (10 frames)"
    frames = [decode_png(bytes(image.png)) for image in gallery.images.all()]
    assert [image.index for image in gallery.images.all()] == list(range(10))
    assert {image.seed for image in gallery.images.all()} == {9}
    # A smooth path: no jump between neighbours bigger than from end to end.
    jumps = [np.abs(b.astype(int) - a).mean() for a, b in itertools.pairwise(frames)]
    assert max(jumps) < np.abs(frames[-1].astype(int) - frames[0]).mean()

    again = run(
        walk(api_client, n_images=10, from_digit=0, to_digit=6, seed=9).json()["id"]
    )
    assert [bytes(i.png) for i in again.images.all()] == [
        bytes(i.png) for i in gallery.images.all()
    ]


def test_a_walk_from_gallery_images_starts_and_ends_at_them(
    api_client: APIClient, owner: User, model_version: ModelVersion, dispatched: Any
) -> None:
    samples = run(
        api_client.post(URL, {"n_images": 2, "seed": 1}, format="json").json()["id"]
    )
    first, second = samples.images.all()
    response = walk(api_client, n_images=6, from_image=first.pk, to_image=second.pk)
    assert response.status_code == 202, response.json()
    gallery = run(response.json()["id"])
    frames = [decode_png(bytes(image.png)) for image in gallery.images.all()]
    ends = [decode_png(bytes(first.png)), decode_png(bytes(second.png))]
    # The ends are the images as the model's PCA sees them: close, not equal.
    for frame, end in ((frames[0], ends[0]), (frames[-1], ends[1])):
        assert (
            np.abs(frame.astype(int) - end).mean()
            < 0.5 * np.abs(ends[0].astype(int) - ends[1]).mean()
        )
    assert (
        gallery.title == f"Walk from image #{first.pk} to image #{second.pk} (6 frames)"
    )


def test_random_ends_when_none_are_given(
    api_client: APIClient, model_version: ModelVersion, dispatched: Any
) -> None:
    response = walk(api_client, n_images=2)
    assert response.status_code == 202, response.json()
    gallery = run(response.json()["id"])
    assert gallery.n_images == 2
    assert gallery.title == "Walk from a random sample to a random sample (2 frames)"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"mode": "spiral"}, "mode", "is not a valid choice"),
        ({"mode": "samples", "from_digit": 3}, "from_digit", "Only for"),
        ({"to_image": 1}, "to_image", "Only for"),
        ({"mode": "walk", "n_images": 1}, "n_images", "2 to 64 frames"),
        ({"mode": "walk", "n_images": 65}, "n_images", "2 to 64 frames"),
        ({"mode": "walk", "digit": 2}, "digit", "from_digit and to_digit"),
        ({"mode": "walk", "from_digit": 12}, "from_digit", "less than or equal to 9"),
        ({"mode": "walk", "to_image": "x"}, "to_image", "valid integer"),
        ({"mode": "walk", "from_image": 999999}, "from_image", "no gallery image"),
    ],
)
def test_bad_requests_answer_400_naming_the_field(
    api_client: APIClient,
    model_version: ModelVersion,
    dispatched: Any,
    fields: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = api_client.post(URL, fields, format="json")
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_a_digit_end_needs_a_class_conditional_model(
    api_client: APIClient, owner: User, make_model_version: Any, dispatched: Any
) -> None:
    plain = make_model_version(owner, class_conditional=False)
    response = walk(api_client, model_version=plain.pk, to_digit=4)
    assert response.status_code == 400
    assert "not class-conditional" in response.json()["to_digit"][0]
    response = walk(api_client, model_version=plain.pk, n_images=4)
    assert response.status_code == 202


def test_one_end_is_a_digit_or_an_image_not_both(
    api_client: APIClient, model_version: ModelVersion, dispatched: Any
) -> None:
    samples = run(api_client.post(URL, {"n_images": 1}, format="json").json()["id"])
    image = samples.images.get()
    response = walk(api_client, from_digit=1, from_image=image.pk)
    assert response.status_code == 400
    assert response.json()["from_image"] == ["Give from_digit or from_image, not both."]
    assert Job.objects.count() == 1


def test_end_images_must_be_the_callers(
    api_client: APIClient,
    other_client: APIClient,
    other_user: User,
    make_model_version: Any,
    model_version: ModelVersion,
    dispatched: Any,
) -> None:
    make_model_version(other_user)
    theirs = run(other_client.post(URL, {"n_images": 1}, format="json").json()["id"])
    image = theirs.images.get()
    response = walk(api_client, to_image=image.pk)
    assert response.status_code == 400
    assert response.json()["to_image"] == [
        f"You have no gallery image with the id {image.pk}."
    ]
    assert Job.objects.filter(owner=model_version.owner).count() == 0


def test_end_images_must_fit_the_model(
    api_client: APIClient, owner: User, model_version: ModelVersion, dispatched: Any
) -> None:
    samples = run(api_client.post(URL, {"n_images": 1}, format="json").json()["id"])
    buffer = io.BytesIO()
    Image.new("L", (28, 28)).save(buffer, format="PNG")
    big = GeneratedImage.objects.create(
        gallery=samples, index=1, seed=0, png=buffer.getvalue()
    )
    response = walk(api_client, from_image=big.pk)
    assert response.status_code == 400
    assert "28x28 pixels" in response.json()["from_image"][0]


def test_a_deleted_end_image_fails_the_job_saying_so(
    api_client: APIClient, model_version: ModelVersion, dispatched: Any
) -> None:
    samples = run(api_client.post(URL, {"n_images": 1}, format="json").json()["id"])
    image = samples.images.get()
    image_id = image.pk
    job_id = walk(api_client, from_image=image_id).json()["id"]
    image.delete()
    with pytest.raises(ValueError, match="no longer exists"):
        runner.run_generation_job(job_id)
    job = Job.objects.get(pk=job_id)
    assert job.state == "failed"
    assert f"from_image {image_id} no longer exists" in job.error


def test_walk_galleries_carry_their_mode_and_a_gif(
    api_client: APIClient,
    other_client: APIClient,
    model_version: ModelVersion,
    dispatched: Any,
) -> None:
    gallery = run(walk(api_client, n_images=5, from_digit=1, to_digit=7).json()["id"])
    samples = run(api_client.post(URL, {"n_images": 2}, format="json").json()["id"])
    data = api_client.get(f"/api/v1/galleries/{gallery.pk}").json()
    assert (data["mode"], data["walk"]["from_digit"], data["walk"]["to_digit"]) == (
        "walk",
        1,
        7,
    )
    assert (
        data["gif_url"] == f"http://testserver/api/v1/galleries/{gallery.pk}/walk.gif"
    )
    listed = {
        item["id"]: item
        for item in api_client.get("/api/v1/galleries/").json()["results"]
    }
    assert listed[samples.pk]["mode"] == "samples"
    assert listed[samples.pk]["walk"] is None
    assert listed[samples.pk]["gif_url"] is None

    response = api_client.get(data["gif_url"], HTTP_ACCEPT="image/gif")
    assert (response.status_code, response["Content-Type"]) == (200, "image/gif")
    gif = Image.open(io.BytesIO(response.content))
    assert gif.n_frames == 8  # 5 forth, 3 back
    first = np.asarray(gif.convert("L"))
    frame = decode_png(bytes(gallery.images.first().png))  # type: ignore[union-attr]
    scale = first.shape[0] // frame.shape[0]
    assert np.array_equal(first, np.repeat(np.repeat(frame, scale, 0), scale, 1))

    assert api_client.get(f"/api/v1/galleries/{samples.pk}/walk.gif").status_code == 404
    assert other_client.get(data["gif_url"]).status_code == 404


def test_running_a_walk_again_walks_the_same_way(
    api_client: APIClient, model_version: ModelVersion, dispatched: Any
) -> None:
    job = Job.objects.get(pk=walk(api_client, n_images=3, to_digit=2).json()["id"])
    job.state = Job.State.SUCCEEDED
    job.save()
    again = services.rerun_job(job)
    assert again.params == job.params


def test_galleries_filter_by_mode(
    api_client: APIClient, model_version: ModelVersion, dispatched: Any
) -> None:
    walked = run(walk(api_client, n_images=3).json()["id"])
    sampled = run(api_client.post(URL, {"n_images": 2}, format="json").json()["id"])
    for mode, expected in (("walk", [walked.pk]), ("samples", [sampled.pk])):
        data = api_client.get(f"/api/v1/galleries/?mode={mode}").json()
        assert [item["id"] for item in data["results"]] == expected
    response = api_client.get("/api/v1/galleries/?mode=spiral")
    assert response.status_code == 400
    assert "mode" in response.json()
