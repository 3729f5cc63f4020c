from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from webapp.jobs import services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

URL = "/api/v1/training-runs"


def post(client: APIClient, body: Any, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(URL, body, format="json")


def test_anonymous_gets_401(anonymous_client: APIClient, dispatched: Any) -> None:
    response = anonymous_client.post(URL, {}, format="json")
    assert response.status_code == 401
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_create_queues_a_job_and_dispatches_it_once(
    api_client: APIClient,
    owner: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    body = {
        "name": "my digits run",
        "dataset": "digits",
        "n_components": 12,
        "whiten": True,
        "kernel": "epanechnikov",
        "bandwidth": "cv",
        "bandwidth_grid": {"start": 0.5, "stop": 4.0, "num": 6},
        "cv_folds": 3,
        "n_train": 500,
        "class_conditional": True,
        "seed": 7,
    }
    response = post(api_client, body, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    job = Job.objects.get()
    assert (job.owner, job.kind, job.state, job.name) == (
        owner,
        "training",
        "queued",
        "my digits run",
    )
    expected = {key: value for key, value in body.items() if key != "name"}
    assert job.params == services.validate_training_settings(expected)
    assert job.params["bandwidth_grid"] == {"start": 0.5, "stop": 4.0, "num": 6}
    assert dispatched.calls == [("training", job.pk, job.celery_task_id)]
    data = response.json()
    assert data["id"] == str(job.pk)
    assert (data["state"], data["queue_position"], data["progress"]) == (
        "queued",
        1,
        0.0,
    )
    assert response["Location"].endswith(f"/api/v1/jobs/{job.pk}")
    assert data["url"] == response["Location"]


def test_trailing_slash_is_accepted_too(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL + "/", {"preset": "preview"}, format="json")
    assert response.status_code == 202


def test_defaults_are_the_notebook_settings(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = post(api_client, {}, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = Job.objects.get()
    assert job.params == services.validate_training_settings({}, preset="notebook")
    assert job.params["dataset"] == "mnist"
    assert job.params["n_components"] == 50
    assert job.name == "custom run"


def test_preset_fills_the_settings_and_fields_override_it(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = post(
        api_client,
        {"preset": "preview", "n_components": 0.9, "seed": 3},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202
    job = Job.objects.get()
    assert job.params == services.validate_training_settings(
        {"n_components": 0.9, "seed": 3}, preset="preview"
    )
    assert job.params["dataset"] == "digits"
    assert job.name == "preview run"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dataset", "cifar"),
        ("n_components", 0),
        ("n_components", 785),
        ("n_components", 1.0),
        ("n_components", "fifty"),
        ("whiten", "yes"),
        ("kernel", "triangle"),
        ("bandwidth", -1),
        ("bandwidth", 0),
        ("bandwidth", "auto"),
        ("bandwidth_grid", {"start": 0, "stop": 1, "num": 5}),
        ("bandwidth_grid", {"start": 2, "stop": 1, "num": 5}),
        ("bandwidth_grid", {"start": 0.1, "stop": 1, "num": 51}),
        ("bandwidth_grid", {"start": 0.1, "stop": 1, "num": 0}),
        ("bandwidth_grid", "wide"),
        ("cv_folds", 1),
        ("cv_folds", 11),
        ("cv_folds", 2.5),
        ("n_train", 0),
        ("n_train", 60001),
        ("n_train", "all"),
        ("class_conditional", 1),
        ("seed", -1),
        ("seed", 2**32),
        ("preset", "turbo"),
        # Integers too large for a float.
        pytest.param("n_components", 10**400, id="n_components-huge"),
        pytest.param("bandwidth", 10**400, id="bandwidth-huge"),
        pytest.param(
            "bandwidth_grid",
            {"start": 0.1, "stop": 10**400, "num": 5},
            id="bandwidth_grid-huge",
        ),
    ],
)
def test_out_of_bounds_field_is_a_400_naming_it(
    api_client: APIClient,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
    field: str,
    value: Any,
) -> None:
    response = post(api_client, {field: value}, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert isinstance(errors[field][0], str)
    assert errors[field][0]
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_every_bad_field_is_reported_at_once(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {
        "preset": "preview",
        "kernel": "boxcar",
        "bandwidth_grid": {"num": 51},
        "cv_folds": 1,
        "n_components": 0,
        "seed": -1,
    }
    response = post(api_client, body, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json() == {
        "kernel": [
            'kernel must be one of "gaussian", "tophat", "epanechnikov", '
            '"exponential", "linear", "cosine"'
        ],
        "bandwidth_grid": ["bandwidth_grid num must be an integer from 1 to 50"],
        "cv_folds": ["cv_folds must be an integer from 2 to 10"],
        "n_components": [
            "n_components must be an integer from 1 to 64 or a fraction in (0, 1)"
        ],
        "seed": [f"seed must be an integer from 0 to {services.MAX_SEED}"],
    }
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_name_and_preset_errors_come_with_the_settings_errors(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {"name": "x" * 101, "preset": "nope", "cv_folds": 1, "colour": "red"}
    response = post(api_client, body, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    errors = response.json()
    assert sorted(errors) == ["colour", "cv_folds", "name", "preset"]
    assert errors["cv_folds"] == ["cv_folds must be an integer from 2 to 10"]
    assert errors["colour"] == ["Unknown field."]
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_n_train_is_bounded_by_the_chosen_data_set(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = post(
        api_client,
        {"dataset": "digits", "n_train": 5000},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 400
    assert "n_train" in response.json()
    assert not Job.objects.exists()


def test_a_presets_training_size_not_given_adapts_to_the_data_set(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The notebook preset's 10,000 images, on a data set of 1,438.
    response = post(
        api_client, {"dataset": "digits"}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 202, response.json()
    params = response.json()["params"]
    assert (params["dataset"], params["n_train"]) == ("digits", 1438)
    assert params["n_components"] == 50
    assert Job.objects.get().params == params


def test_unknown_field_is_a_400(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = post(api_client, {"n_component": 5}, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json() == {"n_component": ["Unknown field."]}
    assert not Job.objects.exists()


@pytest.mark.parametrize("body", [[1, 2], "text", 5])
def test_a_body_that_is_not_an_object_is_a_400(
    api_client: APIClient, dispatched: Any, body: Any
) -> None:
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{nope",
        # Deep enough for json.load's RecursionError.
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep-array"),
        pytest.param(
            '{"bandwidth_grid": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,
            id="deep-object",
        ),
    ],
)
def test_malformed_json_is_a_400(
    api_client: APIClient, dispatched: Any, body: str
) -> None:
    response = api_client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert not Job.objects.exists()


def test_form_encoded_body_is_refused(api_client: APIClient, dispatched: Any) -> None:
    response = api_client.post(URL, {"dataset": "digits"}, format="multipart")
    assert response.status_code == 415
    assert not Job.objects.exists()


def test_name_is_limited_to_100_characters(
    api_client: APIClient, dispatched: Any
) -> None:
    response = api_client.post(URL, {"name": "x" * 101}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_a_training_run_above_the_size_bound_is_a_400(
    api_client: APIClient, dispatched: Any
) -> None:
    response = api_client.post(
        "/api/v1/training-runs", {"n_train": 60000, "n_components": 784}
    )
    assert response.status_code == 400
    assert "at most 12,000,000" in response.json()["n_train"][0]
    assert dispatched.calls == []


def test_a_per_class_run_is_queued_class_conditional(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {
        "preset": "preview",
        "pca_scope": "per_class",
        "temperature": 1.3,
        "match_intensities": True,
    }
    response = post(api_client, body, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    params = Job.objects.get().params
    assert (params["pca_scope"], params["class_conditional"]) == ("per_class", True)
    assert params["temperature"] == 1.3
    assert params["match_intensities"] is True
    assert len(dispatched.calls) == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"pca_scope": "per_class", "n_components": 60, "n_train": 500},
            "n_components",
            "smallest class",
        ),
        (
            {"pca_scope": "per_class", "class_conditional": False},
            "class_conditional",
            'pca_scope "per_class"',
        ),
        ({"pca_scope": "per-pixel"}, "pca_scope", "must be one of"),
        ({"pca_scope": 3}, "pca_scope", "must be one of"),
        ({"temperature": 5}, "temperature", "from 0.1 to 3.0"),
        ({"match_intensities": "yes"}, "match_intensities", "true or false"),
        ({"match_intensities": 1}, "match_intensities", "true or false"),
    ],
)
def test_per_class_settings_that_cannot_work_are_refused(
    api_client: APIClient,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = post(
        api_client, {"preset": "preview", **body}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field], errors
    assert words in errors[field][0]
    assert not Job.objects.exists()
    assert dispatched.calls == []
