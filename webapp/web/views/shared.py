"""What several page modules share: labels, the logged-in user, samples, settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webapp.file_responses import png_data_url
from webapp.jobs import limits, serving
from webapp.jobs.models import ModelVersion
from webapp.jobs.serializers import NameSerializer
from webapp.middleware import throttled_response
from webapp.throttles import GenerateThrottle
from webapp.web.forms import SETTING_LABELS

SAMPLE_COUNT = 16
#: Marks the "queued" message, which the job page drops once the job has ended.
QUEUED_TAG = "job-queued"

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

# Settings that only the bandwidth search uses.
SEARCH_SETTINGS = ("bandwidth_grid", "cv_folds")


def request_user(request: HttpRequest) -> AbstractBaseUser:
    """The logged-in user of a page behind login_required."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


def visible_model_versions(user: AbstractBaseUser) -> QuerySet[ModelVersion]:
    """The model versions a page may show ``user``, with their owners."""
    return ModelVersion.objects.visible_to(user).without_file().select_related("owner")


def sample_images(
    model_version: ModelVersion, count: int
) -> tuple[list[str], str | None]:
    """``count`` fresh samples as data URLs, or the reason there are none."""
    try:
        pngs = serving.sample_pngs(model_version, count)
    except serving.ModelUnavailable as error:
        return [], str(error)
    return [png_data_url(png) for png in pngs], None


def samples_response(request: HttpRequest, model_version: ModelVersion) -> HttpResponse:
    """Fresh samples as the model page's list items, for its "Draw new ones".

    It samples in-process like the old ``/generate``, so it shares that
    endpoint's throttle: a share link must not let anyone flood the web tier."""
    throttle = GenerateThrottle()
    if not throttle.allow_request(request, None):
        return throttled_response(throttle.wait())
    images, sample_error = sample_images(model_version, SAMPLE_COUNT)
    return render(
        request,
        "web/_samples.html",
        {"images": images, "sample_error": sample_error},
        status=200 if images else 503,
    )


def setting_applies(settings: Mapping[str, Any], key: str) -> bool:
    """Whether a setting took part in training: the search's grid and folds do
    only when the bandwidth was cross-validated (not given, nor set by a rule)."""
    return key not in SEARCH_SETTINGS or settings.get("bandwidth") == "cv"


def settings_rows(settings: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(key, label, value) for each known setting that applied, in form order."""
    return [
        (key, label, settings.get(key))
        for key, label in SETTING_LABELS.items()
        if key in settings and setting_applies(settings, key)
    ]


def rename_from_post(request: HttpRequest, row: Model, what: str) -> None:
    """Rename a job, model version or gallery from the posted name, checked as
    ``PATCH {"name": ...}`` checks it, and say how it went."""
    rename = NameSerializer(row, data={"name": request.POST.get("name", "")})
    if rename.is_valid():
        rename.save()
        messages.success(request, f"{what} renamed “{rename.validated_data['name']}”.")
    else:
        messages.error(request, f"Not renamed: {rename.errors['name'][0]}")


def confirm_delete(
    request: HttpRequest, *, what: str, consequences: list[str], back_url: str
) -> HttpResponse:
    """The page that asks before deleting ``what``, saying what goes with it."""
    return render(
        request,
        "web/confirm_delete.html",
        {"what": what, "consequences": consequences, "back_url": back_url},
    )


def refused_response(
    response: HttpResponse, refusal: limits.JobRefused
) -> HttpResponse:
    """The form page re-rendered with the refusal: the API's status and headers."""
    response.status_code = refusal.http_status
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response
