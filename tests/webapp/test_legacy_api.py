"""The old app's /stats and /generate, with their exact JSON shapes."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from PIL import Image
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PREFIX = "data:image/png;base64,"


def test_stats_without_any_model_is_a_503(anonymous_client: APIClient) -> None:
    response = anonymous_client.get("/stats")
    assert response.status_code == 503
    data = response.json()
    assert set(data) == {"success", "error"}
    assert data["success"] is False
    assert "No model is available yet" in data["error"]


def test_stats_of_the_demo_model(
    anonymous_client: APIClient, other_user: User, make_model_version: Any
) -> None:
    demo = make_model_version(other_user, is_public=True)
    response = anonymous_client.get("/stats")
    assert response.status_code == 200
    assert response.json() == {
        "pca_components": 8,
        "variance_explained": demo.metrics["explained_variance"],
        "kde_bandwidth": demo.metrics["bandwidth"],
        "original_dim": 64,
        "reduced_dim": 8,
    }


def test_stats_of_a_users_default_model(
    api_client: APIClient, owner: User, other_user: User, make_model_version: Any
) -> None:
    make_model_version(other_user, is_public=True)
    mine = make_model_version(owner, metrics={"n_components": 3, "bandwidth": 9.5})
    assert api_client.get("/stats").json()["kde_bandwidth"] == 9.5
    assert mine.is_default


@pytest.mark.parametrize("n_samples", [1, 5, 16])
def test_generate_returns_data_url_pngs(
    anonymous_client: APIClient,
    other_user: User,
    make_model_version: Any,
    n_samples: int,
) -> None:
    make_model_version(other_user, is_public=True)
    response = anonymous_client.post(
        "/generate", {"n_samples": n_samples}, format="json"
    )
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"success", "images", "count"}
    assert (data["success"], data["count"]) == (True, n_samples)
    assert len(data["images"]) == n_samples
    for url in data["images"]:
        assert url.startswith(PREFIX)
        with Image.open(io.BytesIO(base64.b64decode(url[len(PREFIX) :]))) as image:
            assert (image.format, image.size) == ("PNG", (8, 8))


def test_generate_for_a_logged_in_user(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    make_model_version(owner)
    response = api_client.post("/generate", {"n_samples": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["count"] == 2


@pytest.mark.parametrize("n_samples", [0, 17, -3, 2.5, "4", None, True, [3]])
def test_generate_with_bad_n_samples_is_a_400(
    anonymous_client: APIClient,
    other_user: User,
    make_model_version: Any,
    n_samples: Any,
) -> None:
    make_model_version(other_user, is_public=True)
    response = anonymous_client.post(
        "/generate", {"n_samples": n_samples}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "n_samples must be an integer from 1 to 16.",
    }


@pytest.mark.parametrize(
    "body",
    ["{broken", "[1, 2]", pytest.param("[" * 100_000 + "]" * 100_000, id="deep")],
)
def test_generate_with_a_bad_body_is_a_400(
    anonymous_client: APIClient, body: str
) -> None:
    response = anonymous_client.post("/generate", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_generate_without_any_model_is_a_503(anonymous_client: APIClient) -> None:
    response = anonymous_client.post("/generate", {"n_samples": 4}, format="json")
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert "No model is available yet" in response.json()["error"]


def test_generate_defaults_to_sixteen_images(
    anonymous_client: APIClient, other_user: User, make_model_version: Any
) -> None:
    make_model_version(other_user, is_public=True)
    response = anonymous_client.post("/generate", {}, format="json")
    assert response.json()["count"] == 16


def test_generate_is_throttled(
    anonymous_client: APIClient,
    other_user: User,
    make_model_version: Any,
    settings: Any,
) -> None:
    make_model_version(other_user, is_public=True)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "100/minute", "generate": "2/minute"},
    }
    codes = [
        anonymous_client.post("/generate", {"n_samples": 1}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_generate_with_a_model_too_big_to_serve_is_a_503_with_the_reason(
    anonymous_client: APIClient,
    other_user: Any,
    make_model_version: Any,
    settings: Any,
) -> None:
    settings.MAX_SERVED_MODEL_MB = 1
    make_model_version(other_user, is_public=True, model_size=5 * 1024 * 1024)
    response = anonymous_client.post("/generate", {"n_samples": 2}, format="json")
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert "larger than the 1 MB this server samples" in response.json()["error"]
