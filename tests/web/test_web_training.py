"""The new training run form: presets, the API's validation, the queued job."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from webapp.jobs import services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

URL = "/training/new/"


def form_values(preset: str = "preview", **overrides: Any) -> dict[str, Any]:
    """What the browser posts for a preset's settings, with some fields changed."""
    settings = services.validate_training_settings({}, preset=preset)
    grid = settings["bandwidth_grid"]
    values: dict[str, Any] = {
        "preset": preset,
        "name": "",
        "dataset": settings["dataset"],
        "n_components": str(settings["n_components"]),
        "kernel": settings["kernel"],
        "bandwidth_mode": settings["bandwidth"],
        "bandwidth_value": "",
        "grid_start": str(grid["start"]),
        "grid_stop": str(grid["stop"]),
        "grid_num": str(grid["num"]),
        "cv_folds": str(settings["cv_folds"]),
        "n_train": str(settings["n_train"]),
        "seed": str(settings["seed"]),
    }
    if settings["whiten"]:
        values["whiten"] = "on"
    if settings["class_conditional"]:
        values["class_conditional"] = "on"
    if settings["match_intensities"]:
        values["match_intensities"] = "on"
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def field_errors(content: bytes, field: str) -> list[str]:
    match = re.search(
        rf'<ul class="errorlist" id="id_{field}_errors">(.*?)</ul>',
        content.decode(),
        re.S,
    )
    if not match:
        return []
    return [
        html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1))
    ]


# What the form calls the settings the API names by field.
FORM_LABELS = {
    "bandwidth_grid num": "Bandwidths tried",
    "bandwidth_grid stop": "Largest bandwidth",
    "bandwidth_grid start": "Smallest bandwidth",
    "n_components": "PCA components",
    "cv_folds": "Cross-validation folds",
    "n_train": "Training images",
    "bandwidth": "Bandwidth",
    "seed": "Seed",
}


def in_form_words(api_messages: list[str]) -> list[str]:
    """The API's messages as the form shows them: each led by the field's label."""
    worded = []
    for message in api_messages:
        for api_name, label in FORM_LABELS.items():
            if message.startswith(api_name + " "):
                message = label + message[len(api_name) :]
                break
        worded.append(message)
    return worded


def post(client: Client, data: dict[str, Any], capture: Any) -> Any:
    with capture(execute=True):
        return client.post(URL, data)


def test_presets_are_rendered_from_the_generator(owner_client: Client) -> None:
    response = owner_client.get(URL)
    match = re.search(
        r'<script id="preset-values" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match is not None
    presets = json.loads(match.group(1))
    assert set(presets) == set(services.PRESET_NAMES)
    for name, values in presets.items():
        settings = services.validate_training_settings({}, preset=name)
        assert values["dataset"] == settings["dataset"]
        assert values["n_train"] == str(settings["n_train"])
        assert values["cv_folds"] == str(settings["cv_folds"])
        assert float(values["grid_stop"]) == settings["bandwidth_grid"]["stop"]
        assert values["class_conditional"] is settings["class_conditional"]
        assert values["match_intensities"] is settings["match_intensities"]
    for label in ["The original notebook", "Fast preview on digits", "Sharper samples"]:
        assert label in response.content.decode()


def test_preset_link_fills_the_form_without_javascript(owner_client: Client) -> None:
    response = owner_client.get(URL + "?preset=preview")
    form = response.context["form"]
    preview = services.validate_training_settings({}, preset="preview")
    assert form.initial["dataset"] == "digits"
    assert form.initial["n_train"] == str(preview["n_train"])
    assert form.initial["preset"] == "preview"
    assert 'value="digits" selected' in response.content.decode()


def test_every_field_has_a_label_and_help_text(owner_client: Client) -> None:
    form = owner_client.get(URL).context["form"]
    content = owner_client.get(URL).content.decode()
    for name, field in form.fields.items():
        if name == "preset":
            continue
        assert field.help_text, name
        if isinstance(field.widget, forms.RadioSelect):
            # A radio group is a fieldset named by its legend.
            assert f'id="field-{name}"' in content, name
            assert f'<legend class="label">{field.label}</legend>' in content, name
        else:
            assert f'for="id_{name}"' in content, name


def test_valid_form_queues_the_same_job_as_the_api(
    owner: User,
    owner_client: Client,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    data = form_values(
        name="my digits",
        n_components="12",
        whiten="on",
        kernel="epanechnikov",
        grid_start="0.5",
        grid_stop="4",
        grid_num="6",
        n_train="500",
        seed="7",
    )
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.owner, job.kind, job.state, job.name) == (
        owner,
        "training",
        "queued",
        "my digits",
    )
    api_body = {
        "preset": "preview",
        "dataset": "digits",
        "n_components": 12,
        "whiten": True,
        "kernel": "epanechnikov",
        "bandwidth": "cv",
        "bandwidth_grid": {"start": 0.5, "stop": 4, "num": 6},
        "cv_folds": 3,
        "n_train": 500,
        "class_conditional": True,
        "seed": 7,
    }
    preset = api_body.pop("preset")
    assert job.params == services.validate_training_settings(api_body, preset=preset)
    assert dispatched.calls == [("training", job.pk, job.celery_task_id)]


def test_fraction_fixed_bandwidth_and_default_name(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(
        n_components="0.9",
        bandwidth_mode="value",
        bandwidth_value="1.5",
        grid_start="",
        grid_stop="",
        grid_num="",
    )
    del data["class_conditional"]
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.params["n_components"] == 0.9
    assert job.params["bandwidth"] == 1.5
    assert job.params["class_conditional"] is False
    assert job.name == "preview run"
    assert len(dispatched.calls) == 1


@pytest.mark.parametrize(
    ("overrides", "api_body", "field", "api_field"),
    [
        ({"n_components": "0"}, {"n_components": 0}, "n_components", "n_components"),
        ({"n_components": "1.5"}, {"n_components": 1.5}, "n_components", None),
        ({"cv_folds": "1"}, {"cv_folds": 1}, "cv_folds", "cv_folds"),
        ({"cv_folds": "five"}, {"cv_folds": "five"}, "cv_folds", "cv_folds"),
        ({"n_train": "999999"}, {"n_train": 999999}, "n_train", "n_train"),
        ({"seed": "-1"}, {"seed": -1}, "seed", "seed"),
        ({"grid_num": "51"}, None, "grid_num", "bandwidth_grid"),
        ({"grid_start": "0"}, None, "grid_start", "bandwidth_grid"),
        ({"grid_stop": "0.01"}, None, "grid_stop", "bandwidth_grid"),
        (
            {"bandwidth_mode": "value", "bandwidth_value": "-2"},
            {"bandwidth": -2},
            "bandwidth_value",
            "bandwidth",
        ),
        ({"kernel": "boxcar"}, None, "kernel", None),
        ({"name": "x" * 101}, {"name": "x" * 101}, "name", "name"),
        # An integer too large for a float.
        ({"n_components": "1" + "0" * 400}, None, "n_components", None),
        ({"grid_stop": "1" + "0" * 400}, None, "grid_stop", "bandwidth_grid"),
    ],
)
def test_bad_value_shows_the_apis_message_and_creates_nothing(
    owner: User,
    owner_client: Client,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
    overrides: dict[str, str],
    api_body: dict[str, Any] | None,
    field: str,
    api_field: str | None,
) -> None:
    response = post(
        owner_client, form_values(**overrides), django_capture_on_commit_callbacks
    )
    assert response.status_code == 400
    errors = field_errors(response.content, field)
    assert errors, response.content.decode()
    assert Job.objects.count() == 0
    assert dispatched.calls == []
    if api_body is not None and api_field is not None:
        client = APIClient()
        client.force_authenticate(owner)
        api = client.post(
            "/api/v1/training-runs", {"preset": "preview", **api_body}, format="json"
        )
        assert api.status_code == 400
        assert errors == in_form_words(api.json()[api_field])
        if api_field in services.SETTING_NAMES:
            assert not any(api_field in message for message in errors), errors


def test_several_bad_fields_are_reported_together(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(n_components="0", cv_folds="1", seed="-1", n_train="99999")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    for field in ["n_components", "cv_folds", "seed", "n_train"]:
        assert field_errors(response.content, field), field
    assert 'aria-invalid="true"' in response.content.decode()
    assert Job.objects.count() == 0
    assert dispatched.calls == []


def test_a_name_too_long_is_reported_with_the_other_bad_fields(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(name="x" * 101, cv_folds="1", seed="-1")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    for field in ["name", "cv_folds", "seed"]:
        assert field_errors(response.content, field), field
    assert Job.objects.count() == 0
    assert dispatched.calls == []


def test_several_bad_fields_show_the_apis_messages_in_one_answer(
    owner: User,
    owner_client: Client,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    data = form_values(n_components="0", cv_folds="1", seed="-1", grid_num="51")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    client = APIClient()
    client.force_authenticate(owner)
    api = client.post(
        "/api/v1/training-runs",
        {
            "preset": "preview",
            "n_components": 0,
            "cv_folds": 1,
            "seed": -1,
            "bandwidth_grid": {"num": 51},
        },
        format="json",
    )
    assert api.status_code == 400
    api_errors = api.json()
    assert set(api_errors) == {"n_components", "cv_folds", "seed", "bandwidth_grid"}
    for field, api_field in [
        ("n_components", "n_components"),
        ("cv_folds", "cv_folds"),
        ("seed", "seed"),
        ("grid_num", "bandwidth_grid"),
    ]:
        assert field_errors(response.content, field) == in_form_words(
            api_errors[api_field]
        )
    assert Job.objects.count() == 0
    assert dispatched.calls == []


def test_blank_values_the_mode_needs_are_errors(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(grid_num="", bandwidth_mode="cv", n_train="")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert field_errors(response.content, "grid_num")
    assert field_errors(response.content, "n_train")
    data = form_values(bandwidth_mode="value", bandwidth_value="")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert field_errors(response.content, "bandwidth_value")
    assert Job.objects.count() == 0


def test_a_refused_form_keeps_what_was_typed(
    owner_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(name="keep me", cv_folds="1", kernel="cosine")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    content = response.content.decode()
    assert 'value="keep me"' in content
    assert 'value="cosine" selected' in content
    assert re.search(r'<input[^>]*name="cv_folds"[^>]*value="1"', content)


def test_the_per_class_scope_and_temperature_reach_the_job(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(pca_scope="per_class", temperature="1.4", n_components="0.8")
    del data["class_conditional"]  # one PCA per digit implies it
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    params = Job.objects.get().params
    assert (params["pca_scope"], params["class_conditional"]) == ("per_class", True)
    assert (params["temperature"], params["n_components"]) == (1.4, 0.8)


def test_the_intensity_curve_box_reaches_the_job(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(match_intensities="on")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert Job.objects.get().params["match_intensities"] is True


def test_the_sharp_preset_keeps_its_intensity_curve_unless_the_box_is_cleared(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values("sharp")
    assert data["match_intensities"] == "on"
    post(owner_client, data, django_capture_on_commit_callbacks)
    assert Job.objects.get().params["match_intensities"] is True
    Job.objects.all().delete()
    del data["match_intensities"]
    post(owner_client, data, django_capture_on_commit_callbacks)
    assert Job.objects.get().params["match_intensities"] is False


def test_too_many_per_class_components_are_refused_on_the_field(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = form_values(pca_scope="per_class", n_components="60", n_train="500")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    errors = field_errors(response.content, "n_components")
    assert errors
    assert "smallest class" in errors[0]
    assert errors[0].startswith("PCA components (60)")
    assert not Job.objects.exists()
    assert dispatched.calls == []
