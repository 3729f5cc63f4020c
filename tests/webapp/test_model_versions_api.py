from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from webapp.jobs.models import ModelVersion

pytestmark = pytest.mark.django_db


def detail(model_version: ModelVersion) -> str:
    return f"/api/v1/model-versions/{model_version.pk}"


def test_anonymous_gets_401(
    anonymous_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner, is_public=True)
    for url in ("/api/v1/model-versions/", detail(model_version)):
        assert anonymous_client.get(url).status_code == 401
    assert anonymous_client.get(detail(model_version) + "/download").status_code == 401
    response = anonymous_client.post(detail(model_version) + "/set-default")
    assert response.status_code == 401


def test_owner_reads_settings_metrics_and_stats(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    response = api_client.get(detail(model_version))
    assert response.status_code == 200
    data = response.json()
    metrics = model_version.metrics
    assert data["stats"] == {
        "pca_components": metrics["n_components"],
        "variance_explained": metrics["explained_variance"],
        "kde_bandwidth": metrics["bandwidth"],
        "original_dim": 64,
        "reduced_dim": metrics["n_components"],
    }
    assert data["metrics"] == metrics
    assert data["settings"] == model_version.settings
    assert data["metrics"]["explained_variance_curve"]
    assert data["metrics"]["cv"]["mean_log_likelihood"]
    assert (data["name"], data["version"], data["owner"], data["dataset"]) == (
        "tiny",
        1,
        "owner",
        "digits",
    )
    assert (data["is_default"], data["is_public"]) == (True, False)
    assert data["model_sha256"] == model_version.model_sha256
    assert data["download_url"].endswith(detail(model_version) + "/download")


def test_other_user_gets_404_everywhere(
    other_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    assert other_client.get(detail(model_version)).status_code == 404
    assert other_client.get(detail(model_version) + "/download").status_code == 404
    assert other_client.post(detail(model_version) + "/set-default").status_code == 404
    assert other_client.get("/api/v1/model-versions/").json()["results"] == []


def test_list_has_own_and_public_versions_only(
    api_client: APIClient,
    owner: User,
    other_user: User,
    make_model_version: Any,
) -> None:
    mine = make_model_version(owner)
    demo = make_model_version(other_user, is_public=True)
    make_model_version(other_user)  # private
    response = api_client.get("/api/v1/model-versions/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert {item["id"] for item in results} == {mine.pk, demo.pk}
    assert "metrics" not in results[0]
    listed_demo = next(item for item in results if item["id"] == demo.pk)
    # The demo is its owner's default, not the caller's.
    assert (listed_demo["is_public"], listed_demo["is_default"]) == (True, False)
    mine_only = api_client.get("/api/v1/model-versions/?mine=true").json()["results"]
    assert [item["id"] for item in mine_only] == [mine.pk]


def test_public_demo_is_readable_but_not_settable_by_others(
    api_client: APIClient, other_user: User, make_model_version: Any
) -> None:
    demo = make_model_version(other_user, is_public=True)
    assert api_client.get(detail(demo)).status_code == 200
    assert api_client.get(detail(demo) + "/download").status_code == 200
    assert api_client.post(detail(demo) + "/set-default").status_code == 404


def test_download_returns_the_verified_file(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    response = api_client.get(
        detail(model_version) + "/download", HTTP_ACCEPT="application/octet-stream"
    )
    assert response.status_code == 200
    assert response.streaming
    content = b"".join(response.streaming_content)  # type: ignore[arg-type]
    assert int(response["Content-Length"]) == len(content)
    assert hashlib.sha256(content).hexdigest() == model_version.model_sha256
    assert content[:4] == b"PK\x03\x04"  # an .npz archive
    assert "attachment" in response["Content-Disposition"]


def test_download_of_a_corrupt_file_is_refused_not_a_500(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    ModelVersion.objects.filter(pk=model_version.pk).update(model_file=b"broken")
    response = api_client.get(detail(model_version) + "/download")
    assert response.status_code == 503
    assert "checksum" in response.json()["detail"]


def test_set_default_swaps_the_default(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    first = make_model_version(owner)
    second = make_model_version(owner)
    response = api_client.post(detail(second) + "/set-default")
    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert list(ModelVersion.objects.filter(is_default=True)) == [second]
    listed = api_client.get("/api/v1/model-versions/").json()["results"]
    assert {item["id"]: item["is_default"] for item in listed} == {
        first.pk: False,
        second.pk: True,
    }


def test_filters_by_dataset_and_kernel(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)

    def ids(query: str) -> list[int]:
        response = api_client.get("/api/v1/model-versions/" + query)
        return [item["id"] for item in response.json()["results"]]

    assert ids("?dataset=digits&kernel=gaussian") == [model_version.pk]
    assert ids("?dataset=mnist") == []
    assert ids("?kernel=tophat") == []


def test_created_filter_takes_an_offset_postgresql_refuses(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    response = api_client.get(
        "/api/v1/model-versions/?created_after=2000-01-01T00:00:00-22:10"
    )
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [model_version.pk]


def test_names_order_naturally_as_on_the_history_page(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    for name in ["batch 13", "Batch 7", "batch 100", "alpha", "batch 7b"]:
        make_model_version(owner, name=name)
    expected = ["alpha", "Batch 7", "batch 7b", "batch 13", "batch 100"]

    def names(query: str) -> list[str]:
        response = api_client.get("/api/v1/model-versions/" + query)
        assert response.status_code == 200
        return [item["name"] for item in response.json()["results"]]

    assert names("?ordering=name") == expected
    assert names("?ordering=-name") == expected[::-1]
    assert names("?ordering=name&page_size=2&page=2") == expected[2:4]
    page = Client()
    page.force_login(owner)
    html = page.get("/history/?tab=models&sort=name").content.decode()
    assert re.findall(r'<a href="/models/\d+/">([^<]+) <span', html) == expected


def test_a_later_term_orders_names_that_tie(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    for name, dataset in [
        ("run 10", "digits"),
        ("run 2", "mnist"),
        ("run 2", "digits"),
    ]:
        make_model_version(owner, name=name, dataset=dataset)
    response = api_client.get("/api/v1/model-versions/?ordering=-name,dataset")
    rows = [(item["name"], item["dataset"]) for item in response.json()["results"]]
    assert rows == [("run 10", "digits"), ("run 2", "digits"), ("run 2", "mnist")]
    response = api_client.get("/api/v1/model-versions/?ordering=dataset,name")
    rows = [(item["name"], item["dataset"]) for item in response.json()["results"]]
    assert rows == [("run 2", "digits"), ("run 10", "digits"), ("run 2", "mnist")]


def test_a_model_version_is_found_whatever_the_ordering_asked(
    api_client: APIClient, owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    response = api_client.get(detail(model_version) + "?ordering=name")
    assert (response.status_code, response.json()["id"]) == (200, model_version.pk)
