"""Two to four model versions side by side."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.jobs.models import ModelVersion
from webapp.web import charts, training_options
from webapp.web.filters import ComparePickerFilter
from webapp.web.forms import SETTING_LABELS
from webapp.web.views.shared import (
    SAMPLE_COUNT,
    request_user,
    sample_images,
    setting_applies,
    visible_model_versions,
)

COMPARE_MIN, COMPARE_MAX = 2, 4
PICKER_SIZE = 100


def _differs(values: Iterable[Any]) -> bool:
    distinct = {repr(value) for value in values}
    return len(distinct) > 1


def _id_param(text: str) -> int | None:
    """An id typed as plain decimal digits, else None."""
    text = text.strip()
    # isdigit() also passes "²", which int() refuses; int() alone would take
    # signs and underscores.
    if not text.isdecimal():
        return None
    try:
        return int(text)
    except ValueError:  # past int()'s digit limit
        return None


def _picker(
    request: HttpRequest,
    visible: QuerySet[ModelVersion],
    ids: list[int],
    error: str | None,
    status: int,
) -> HttpResponse:
    """The form to pick versions, narrowed by name, data set and kernel; the ones
    already picked stay listed."""
    picker = ComparePickerFilter(request.GET, queryset=visible)
    matching = picker.qs.values("pk")
    choices = visible.filter(Q(pk__in=matching) | Q(pk__in=ids))
    applied = picker.applied()
    return render(
        request,
        "web/compare.html",
        {
            "has_models": visible.exists(),
            "choices": choices.order_by("-created_at")[:PICKER_SIZE],
            "error": error,
            "selected": ids,
            "name": applied.get("name") or "",
            "dataset": applied.get("dataset") or "",
            "datasets": training_options.DATASET_NAMES,
            "kernel": applied.get("kernel") or "",
            "kernels": training_options.KERNELS,
        },
        status=status,
    )


def _setting_rows(chosen: list[ModelVersion]) -> list[dict[str, Any]]:
    """One row per setting any of them used; a setting one did not use (the
    search's grid without a search) is "not used" there, never equal."""
    rows = []
    for key, label in SETTING_LABELS.items():
        used = [setting_applies(model.settings, key) for model in chosen]
        if not any(used):
            continue
        cells = [
            {"model": model, "value": model.settings.get(key), "used": uses}
            for model, uses in zip(chosen, used, strict=True)
        ]
        applied = [cell["value"] for cell in cells if cell["used"]]
        rows.append(
            {
                "key": key,
                "label": label,
                "cells": cells,
                "differs": not all(used) or _differs(applied),
            }
        )
    return rows


@login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """Two to four model versions side by side."""
    user = request_user(request)
    visible = visible_model_versions(user)
    raw_ids = request.GET.getlist("ids")
    ids: list[int] = []
    for raw in raw_ids:
        for part in raw.split(","):
            pk = _id_param(part)
            if pk is not None and pk not in ids:
                ids.append(pk)
    error = None
    chosen: list[ModelVersion] = []
    if ids:
        found = {model.pk: model for model in visible.filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in found]
        if missing:
            # Someone else's model version is "not found", as in the API.
            return _picker(request, visible, ids, "Model version not found.", 404)
        chosen = [found[pk] for pk in ids]
        # A single id (the model page's "Compare…" link) preselects it in the
        # picker; only a submitted choice of the wrong size is an error.
        picked = len(chosen) > COMPARE_MAX or "submitted" in request.GET
        if picked and not COMPARE_MIN <= len(chosen) <= COMPARE_MAX:
            error = (
                f"Pick {COMPARE_MIN} to {COMPARE_MAX} model versions to compare "
                f"(you picked {len(chosen)})."
            )
    if error or len(chosen) < COMPARE_MIN:
        return _picker(request, visible, ids, error, 400 if error else 200)
    labelled = [
        charts.Labelled(f"{model} (#{model.pk})", model.metrics or {})
        for model in chosen
    ]
    metric_specs: list[tuple[str, Callable[[ModelVersion], Any], str]] = [
        ("Training images", lambda m: m.metrics.get("n_train"), "number"),
        ("Components kept", lambda m: m.stats()["pca_components"], "number"),
        ("Explained variance", lambda m: m.stats()["variance_explained"], "percent"),
        ("Bandwidth", lambda m: m.stats()["kde_bandwidth"], "number"),
        (
            "Test log-likelihood",
            lambda m: m.metrics.get("test_log_likelihood"),
            "loglik",
        ),
        (
            "Training time",
            lambda m: sum(
                v
                for v in (m.metrics.get("seconds") or {}).values()
                if isinstance(v, int | float)
            ),
            "duration",
        ),
    ]
    metric_rows = []
    for label, getter, kind in metric_specs:
        values = [getter(model) for model in chosen]
        metric_rows.append(
            {
                "label": label,
                "cells": [
                    {"model": model, "value": value}
                    for model, value in zip(chosen, values, strict=True)
                ],
                "kind": kind,
                "differs": _differs(values),
            }
        )
    columns = []
    for index, model in enumerate(chosen):
        images, sample_error = sample_images(model, SAMPLE_COUNT)
        columns.append(
            {
                "model": model,
                "colour": index,
                "images": images,
                "error": sample_error,
                "has_cv": charts.has_cv_curve(model.metrics or {}),
                "cv_gaps": charts.cv_gaps(model.metrics or {}),
                "cv_size": len(charts.cv_table(model.metrics or {})),
            }
        )
    return render(
        request,
        "web/compare_result.html",
        {
            "columns": columns,
            "setting_rows": _setting_rows(chosen),
            "metric_rows": metric_rows,
            "variance_chart": charts.variance_chart(labelled, key="compare-variance"),
            "cv_chart": charts.cv_chart(labelled, key="compare-cv"),
            "any_cv": any(column["has_cv"] for column in columns),
            "ids": ",".join(str(model.pk) for model in chosen),
        },
    )
