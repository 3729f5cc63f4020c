"""Issue 13's walks and share links through the real stack: the API on a live
server, PostgreSQL, Redis and a Celery worker subprocess."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from tests.integration.integration_support import (
    Api,
    WorkerProcess,
    sign_up,
    wait_finished,
)
from tests.integration.test_end_to_end import SMALL_TRAINING

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_walk_is_drawn_by_the_worker_and_shared_read_only(
    api: Callable[[], Api], celery_worker: WorkerProcess
) -> None:
    owner = sign_up(api(), "wanderer")
    status, job = owner.post("/api/v1/training-runs", SMALL_TRAINING)
    assert status == 202, job
    job = wait_finished(owner, job["id"], celery_worker)
    assert job["state"] == "succeeded", job
    model_version = job["model_version"]

    walk = {
        "model_version": model_version,
        "mode": "walk",
        "n_images": 8,
        "from_digit": 0,
        "to_digit": 9,
    }
    status, job = owner.post("/api/v1/generations", walk)
    assert status == 202, job
    job = wait_finished(owner, job["id"], celery_worker)
    assert job["state"] == "succeeded", job
    status, gallery = owner.get(job["links"]["gallery"])
    assert status == 200, gallery
    assert (gallery["mode"], len(gallery["images"])) == ("walk", 8)
    assert (gallery["walk"]["from_digit"], gallery["walk"]["to_digit"]) == (0, 9)
    status, gif = owner.get(gallery["gif_url"], raw=True)
    assert status == 200
    assert Image.open(io.BytesIO(gif)).n_frames == 14

    # A second walk between the first and last frames of the first.
    first, last = gallery["images"][0]["id"], gallery["images"][-1]["id"]
    status, job = owner.post(
        "/api/v1/generations",
        {
            **walk,
            "from_digit": None,
            "to_digit": None,
            "from_image": first,
            "to_image": last,
        },
    )
    assert status == 202, job
    assert wait_finished(owner, job["id"], celery_worker)["state"] == "succeeded"

    status, link = owner.post(f"/api/v1/galleries/{gallery['id']}/share")
    assert status == 201, link
    visitor = api()
    status, page = visitor.get(link["url"], raw=True)
    assert status == 200
    assert b'<meta name="robots" content="noindex, nofollow">' in page
    status, shared_gif = visitor.get(link["url"] + "walk.gif", raw=True)
    assert (status, shared_gif) == (200, gif)

    assert owner.request("DELETE", f"/api/v1/share-links/{link['id']}")[0] == 204
    assert visitor.get(link["url"], raw=True)[0] == 404
    assert visitor.get(link["url"] + "walk.gif", raw=True)[0] == 404
