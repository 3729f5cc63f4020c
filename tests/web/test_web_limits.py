"""The forms answer a refused submission like the API: the reason, 429 or 409."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import Settings as SettingsWrapper

from tests.web.test_web_training import form_values
from tests.webapp.job_rows import generation_job, training_job
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def test_training_form_at_the_limit_shows_the_reason(
    owner: User, owner_client: Client, settings: SettingsWrapper
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    training_job(owner)
    response = owner_client.post("/training/new/", form_values())
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert (
        "You already have 1 training job queued or running, the most allowed at "
        "once (1)." in page_text(response)
    )
    assert Job.objects.count() == 1


def test_generation_form_at_the_limit_shows_the_reason(
    owner: User,
    owner_client: Client,
    make_model_version: Any,
    settings: SettingsWrapper,
) -> None:
    settings.MAX_ACTIVE_GENERATION_JOBS = 1
    model = make_model_version(owner)
    generation_job(owner, model)
    response = owner_client.post(
        f"/models/{model.pk}/generate/", {"n_images": "4", "temperature": "1"}
    )
    assert response.status_code == 429
    assert "1 generation job queued or running" in page_text(response)
    assert Job.objects.count() == 1


def test_generation_form_with_a_full_quota_shows_the_figures(
    owner: User,
    owner_client: Client,
    make_model_version: Any,
    settings: SettingsWrapper,
) -> None:
    settings.STORAGE_QUOTA_MB = 1
    model = make_model_version(owner, model_size=2 * 1024 * 1024)
    response = owner_client.post(
        f"/models/{model.pk}/generate/", {"n_images": "4", "temperature": "1"}
    )
    assert response.status_code == 409
    assert "you use 2.0 MB of your 1 MB quota" in page_text(response)
    assert not Job.objects.exists()


def test_the_page_of_a_model_too_big_to_serve_says_so(
    owner: User,
    owner_client: Client,
    make_model_version: Any,
    settings: SettingsWrapper,
) -> None:
    settings.MAX_SERVED_MODEL_MB = 1
    model = make_model_version(owner, model_size=3 * 1024 * 1024)
    response = owner_client.get(f"/models/{model.pk}/")
    assert response.status_code == 200
    assert "larger than the 1 MB this server samples" in page_text(response)
