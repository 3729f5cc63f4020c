from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


def test_anonymous_gets_401(anonymous_client: APIClient, dispatched: Any) -> None:
    assert anonymous_client.post(URL, {}, format="json").status_code == 401
    assert not Job.objects.exists()


def test_create_uses_the_default_model_and_dispatches_once(
    api_client: APIClient,
    owner: Any,
    make_model_version: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    default = make_model_version(owner)
    make_model_version(owner)  # not the default
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            URL,
            {"n_images": 16, "digit": 4, "seed": 99, "temperature": 0.5},
            format="json",
        )
    assert response.status_code == 202, response.json()
    job = Job.objects.get()
    assert (job.owner, job.kind, job.state) == (owner, "generation", "queued")
    assert job.params == {
        "model_version": default.pk,
        "n_images": 16,
        "digit": 4,
        "seed": 99,
        "temperature": 0.5,
    }
    assert dispatched.calls == [("generation", job.pk, job.celery_task_id)]
    assert response.json()["id"] == str(job.pk)


def test_defaults_fill_in_count_temperature_and_a_random_seed(
    api_client: APIClient, owner: Any, make_model_version: Any, dispatched: Any
) -> None:
    make_model_version(owner)
    response = api_client.post(URL, {}, format="json")
    assert response.status_code == 202
    params = Job.objects.get().params
    assert (params["n_images"], params["digit"], params["temperature"]) == (
        16,
        None,
        1.0,
    )
    assert isinstance(params["seed"], int)


def test_the_public_demo_model_may_be_named(
    api_client: APIClient,
    other_user: Any,
    make_model_version: Any,
    dispatched: Any,
) -> None:
    demo = make_model_version(other_user, is_public=True)
    response = api_client.post(URL, {"model_version": demo.pk}, format="json")
    assert response.status_code == 202
    assert Job.objects.get().params["model_version"] == demo.pk


def test_another_users_private_model_is_like_an_unknown_one(
    api_client: APIClient,
    owner: Any,
    other_user: Any,
    make_model_version: Any,
    dispatched: Any,
) -> None:
    make_model_version(owner)
    theirs = make_model_version(other_user)
    response = api_client.post(URL, {"model_version": theirs.pk}, format="json")
    unknown = api_client.post(URL, {"model_version": 999999}, format="json")
    assert response.status_code == unknown.status_code == 400
    assert response.json()["model_version"][0].replace(
        str(theirs.pk), "ID"
    ) == unknown.json()["model_version"][0].replace("999999", "ID")
    assert not Job.objects.exists()


def test_a_model_version_id_beyond_the_integer_range_is_like_an_unknown_one(
    api_client: APIClient, owner: Any, make_model_version: Any, dispatched: Any
) -> None:
    make_model_version(owner)
    huge = api_client.post(URL, {"model_version": 2**64}, format="json")
    unknown = api_client.post(URL, {"model_version": 999999}, format="json")
    assert huge.status_code == unknown.status_code == 400
    assert huge.json()["model_version"][0].replace(str(2**64), "ID") == unknown.json()[
        "model_version"
    ][0].replace("999999", "ID")
    assert not Job.objects.exists()


def test_no_default_model_is_a_clear_400(
    api_client: APIClient, dispatched: Any
) -> None:
    response = api_client.post(URL, {}, format="json")
    assert response.status_code == 400
    assert "no default model version" in response.json()["model_version"][0]
    assert not Job.objects.exists()


def test_digit_needs_a_class_conditional_model(
    api_client: APIClient, owner: Any, make_model_version: Any, dispatched: Any
) -> None:
    make_model_version(owner, class_conditional=False)
    response = api_client.post(URL, {"digit": 3}, format="json")
    assert response.status_code == 400
    assert "not class-conditional" in response.json()["digit"][0]
    assert not Job.objects.exists()
    assert api_client.post(URL, {}, format="json").status_code == 202


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_images", 0),
        ("n_images", 257),
        ("n_images", "many"),
        ("digit", -1),
        ("digit", 10),
        ("seed", -1),
        ("seed", 2**32),
        ("temperature", 0.05),
        ("temperature", 3.5),
        ("temperature", "hot"),
        ("model_version", "abc"),
        ("model_version", 1.5),
        ("model_version", True),
    ],
)
def test_out_of_bounds_field_is_a_400_naming_it(
    api_client: APIClient,
    owner: Any,
    make_model_version: Any,
    dispatched: Any,
    field: str,
    value: Any,
) -> None:
    make_model_version(owner)
    response = api_client.post(URL, {field: value}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_model_version_beyond_the_float_range_is_a_400(
    api_client: APIClient, owner: Any, make_model_version: Any, dispatched: Any
) -> None:
    make_model_version(owner)
    response = api_client.post(
        URL, '{"model_version": 1e309}', content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["model_version"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("body", [{}, {"temperature": None}])
def test_the_default_temperature_is_the_model_versions_own(
    api_client: APIClient,
    owner: Any,
    make_model_version: Any,
    dispatched: Any,
    body: dict[str, Any],
) -> None:
    model_version = make_model_version(owner)
    model_version.settings = {**model_version.settings, "temperature": 1.54}
    model_version.save(update_fields=["settings"])
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    assert Job.objects.get().params["temperature"] == 1.54


def test_a_given_temperature_overrides_the_model_versions(
    api_client: APIClient, owner: Any, make_model_version: Any, dispatched: Any
) -> None:
    model_version = make_model_version(owner)
    model_version.settings = {**model_version.settings, "temperature": 1.54}
    model_version.save(update_fields=["settings"])
    response = api_client.post(URL, {"temperature": 0.8}, format="json")
    assert response.status_code == 202, response.json()
    assert Job.objects.get().params["temperature"] == 0.8


def test_the_answer_is_the_new_job_without_reading_it_back(
    api_client: APIClient,
    owner: Any,
    other_user: Any,
    make_model_version: Any,
    dispatched: Any,
    django_assert_num_queries: Any,
) -> None:
    model_version = make_model_version(owner)
    Job.objects.create(owner=other_user, kind="generation")  # queued ahead
    Job.objects.create(owner=owner, kind="training")  # another queue
    body = {"model_version": model_version.pk, "n_images": 4}
    # The model version; the owner's lock, then every limit's figure in one
    # query; the insert; and the savepoint around them.
    with django_assert_num_queries(6):
        response = api_client.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    assert response["Location"] == data["url"]
    job = Job.objects.get(pk=data["id"])
    assert (data["state"], data["queue_position"], data["attempts"]) == (
        "queued",
        2,
        0,
    )
    assert (data["model_version"], data["gallery"]) == (None, None)
    assert data["links"]["model_version"] is None
    assert data["params"] == job.params
    # The answer says what a poll of the job says (but for a fresh heartbeat).
    polled = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert data == polled
