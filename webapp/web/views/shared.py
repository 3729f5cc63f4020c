"""What several page modules share: labels, the logged-in user, samples, settings."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from webapp.jobs import limits, serving
from webapp.jobs.models import ModelVersion

SAMPLE_COUNT = 16

# Words for the job phases the services write, shown on the job page.
PHASE_LABELS = {
    "": "Waiting",
    "starting": "Starting",
    "loading": "Loading the data set",
    "pca": "Fitting PCA",
    "search": "Searching for the bandwidth",
    "fitting": "Fitting the density",
    "evaluating": "Evaluating",
    "sampling": "Drawing images",
    "saving": "Saving the result",
    "done": "Done",
    "cancelled": "Cancelled",
    "requeued": "Back in the queue",
}

PHASE_ORDER = {phase: index for index, phase in enumerate(PHASE_LABELS)}

# Settings in the order and words of the form.
SETTING_LABELS = {
    "dataset": "Data set",
    "n_components": "PCA components",
    "whiten": "Whitening",
    "kernel": "Kernel",
    "bandwidth": "Bandwidth",
    "bandwidth_grid": "Bandwidth grid",
    "cv_folds": "Cross-validation folds",
    "n_train": "Training images",
    "class_conditional": "Class-conditional",
    "seed": "Seed",
}


def request_user(request: HttpRequest) -> AbstractBaseUser:
    """The logged-in user of a page behind login_required."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


def visible_model_versions(user: AbstractBaseUser) -> QuerySet[ModelVersion]:
    """The model versions a page may show ``user``, with their owners."""
    return ModelVersion.objects.visible_to(user).without_file().select_related("owner")


def _png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sample_images(
    model_version: ModelVersion, count: int
) -> tuple[list[str], str | None]:
    """``count`` fresh samples as data URLs, or the reason there are none."""
    try:
        pngs = serving.sample_pngs(model_version, count)
    except serving.ModelUnavailable as error:
        return [], str(error)
    return [_png_data_url(png) for png in pngs], None


def settings_rows(settings: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(key, label, value) for each known setting, in form order."""
    return [
        (key, label, settings.get(key))
        for key, label in SETTING_LABELS.items()
        if key in settings
    ]


def refused_response(
    response: HttpResponse, refusal: limits.JobRefused
) -> HttpResponse:
    """The form page re-rendered with the refusal: the API's status and headers."""
    response.status_code = refusal.http_status
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response
