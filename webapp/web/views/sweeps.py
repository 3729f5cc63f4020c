"""Parameter sweeps: their list and each one's live, sortable table of runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from webapp.jobs import limits
from webapp.jobs.models import Job, ModelVersion
from webapp.jobs.services import JobConflict
from webapp.sweeps import services
from webapp.sweeps.models import Sweep, SweepRun
from webapp.web.forms import SETTING_LABELS
from webapp.web.views.compare import COMPARE_MAX, COMPARE_MIN
from webapp.web.views.shared import request_user

PAGE_SIZE = 20


@dataclass(frozen=True)
class Figure:
    """A column of a run's results; ``higher_is_better`` for picking the best."""

    label: str
    kind: str  # how the template formats it: loglik, duration, percent, number
    higher_is_better: bool
    read: Callable[[dict[str, Any]], float | None]


def _training_seconds(metrics: dict[str, Any]) -> float | None:
    seconds = metrics.get("seconds")
    if not isinstance(seconds, dict):
        return None
    return float(sum(v for v in seconds.values() if isinstance(v, int | float)))


def _metric(key: str) -> Callable[[dict[str, Any]], float | None]:
    def read(metrics: dict[str, Any]) -> float | None:
        value = metrics.get(key)
        return float(value) if isinstance(value, int | float) else None

    return read


FIGURES: dict[str, Figure] = {
    "test_log_likelihood": Figure(
        "Test log-lik.", "loglik", True, _metric("test_log_likelihood")
    ),
    "training_time": Figure("Training time", "duration", False, _training_seconds),
    "explained_variance": Figure(
        "Variance kept", "percent", True, _metric("explained_variance")
    ),
    "bandwidth": Figure("Bandwidth", "number", True, _metric("bandwidth")),
    "sample_confidence": Figure(
        "Sample confidence", "percent", True, _metric("sample_confidence")
    ),
}
#: The figures a best run is picked by (a bandwidth is no merit in itself).
BEST_BY = {
    "test_log_likelihood": "Test log-likelihood",
    "training_time": "Training time",
    "explained_variance": "Variance kept",
    "sample_confidence": "Sample confidence",
}


@dataclass
class Row:
    run: SweepRun
    model: ModelVersion | None
    figures: dict[str, float | None]
    is_best: bool = False

    @property
    def job(self) -> Job:
        return self.run.job


def _rows(sweep: Sweep) -> list[Row]:
    rows = []
    for run in sweep.runs.all():
        model = getattr(run.job, "model_version", None)
        metrics = (
            {
                **model.metrics,
                "sample_confidence": run.sample_confidence,  # type: ignore[attr-defined]
            }
            if model is not None
            else {}
        )
        rows.append(
            Row(
                run=run,
                model=model,
                figures={key: figure.read(metrics) for key, figure in FIGURES.items()},
            )
        )
    return rows


def _ranked(rows: list[Row], metric: str) -> list[Row]:
    """The runs with a model and a value of ``metric``, best first.

    A model whose test log-likelihood is -inf (stored as null) ranks last.
    """
    figure = FIGURES[metric]
    with_model = [row for row in rows if row.model is not None]

    def key(row: Row) -> float:
        value = row.figures[metric]
        if value is None:
            return float("inf")
        return -value if figure.higher_is_better else value

    return sorted(with_model, key=key)


def _sort_value(row: Row, column: str) -> Any:
    if column == "position":
        return row.run.position
    if column == "state":
        return row.job.state
    if column in FIGURES:
        return row.figures[column]
    value = row.run.values.get(column.removeprefix("setting:"))
    # A setting may mix numbers and words ("cv"); grids are objects.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, json.dumps(value, sort_keys=True))


def _sorted(rows: list[Row], column: str, descending: bool) -> list[Row]:
    """Rows by ``column``; runs without a value (no model yet) last either way."""
    keyed = [(_sort_value(row, column), row) for row in rows]
    present = [pair for pair in keyed if pair[0] is not None]
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [row for _, row in present] + [row for key, row in keyed if key is None]


def _own_sweep(request: HttpRequest, pk: UUID) -> Sweep:
    return get_object_or_404(
        Sweep.objects.for_owner(request_user(request)).with_progress().with_runs(),
        pk=pk,
    )


@login_required
@require_GET
def sweep_list(request: HttpRequest) -> HttpResponse:
    sweeps = Sweep.objects.for_owner(request_user(request)).with_progress()
    page = Paginator(sweeps, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/sweeps.html", {"page": page})


@login_required
@require_GET
def sweep_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The runs as a table the page's script refreshes (``?partial=1``)."""
    sweep = _own_sweep(request, pk)
    rows = _rows(sweep)
    samples = services.run_samples(sweep)
    is_running = sweep.state == Sweep.State.RUNNING
    metric = request.GET.get("metric", "test_log_likelihood")
    if metric not in BEST_BY:
        metric = "test_log_likelihood"
    ranked = _ranked(rows, metric)
    best = ranked[0] if ranked else None
    if best is not None:
        best.is_best = True
    settings = [
        {"column": f"setting:{key}", "label": SETTING_LABELS.get(key, key), "key": key}
        for key in sweep.grid
    ]
    sortable = {"position", "state", *FIGURES, *(s["column"] for s in settings)}
    sort = request.GET.get("sort", "position")
    if sort not in sortable:
        sort = "position"
    descending = request.GET.get("order") == "desc"
    context = {
        "sweep": sweep,
        "rows": _sorted(rows, sort, descending),
        "settings": settings,
        "figures": FIGURES,
        "best_by": BEST_BY,
        "metric": metric,
        "best": best,
        "top_ids": ",".join(
            str(row.model.pk) for row in ranked[:COMPARE_MAX] if row.model
        ),
        "can_compare": len(ranked) >= COMPARE_MIN,
        "sort": sort,
        "descending": descending,
        "is_running": is_running,
        # Live too while samples are on their way: their confidence fills in.
        "is_live": is_running or bool(samples.on_the_way),
        "samples": samples,
        "sample_images": services.SAMPLE_IMAGES,
        "can_sample": bool(samples.to_sample) and django_settings.GALLERY_EVALUATION,
    }
    template = (
        "web/_sweep_runs.html" if request.GET.get("partial") else "web/sweep.html"
    )
    return render(request, template, context)


@login_required
@require_POST
def sweep_cancel(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The cancel button: the same service as ``POST /api/v1/sweeps/{id}/cancel``."""
    sweep = get_object_or_404(Sweep.objects.for_owner(request_user(request)), pk=pk)
    try:
        services.cancel_sweep(sweep)
    except JobConflict as conflict:
        messages.error(request, str(conflict))
    else:
        messages.info(
            request, "Sweep cancelled: runs not started never will; running ones stop."
        )
    return redirect("web:sweep", pk=pk)


@login_required
@require_POST
def sweep_sample(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The sample button: ``POST /api/v1/sweeps/{id}/sample``'s service, then back
    to the table as it was shown (its best-by metric and order)."""
    sweep = _own_sweep(request, pk)
    shown = {
        key: request.POST[key]
        for key in ("metric", "sort", "order")
        if key in request.POST
    }
    back = reverse("web:sweep", kwargs={"pk": pk})
    if shown:
        back += f"?{urlencode(shown)}"
    try:
        sampling = services.sample_runs(sweep, request_user(request))
    except (JobConflict, limits.JobRefused) as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    count = len(sampling.jobs)
    text = (
        f"Queued a gallery of {services.SAMPLE_IMAGES} images from {count} run"
        f"{'' if count == 1 else 's'}' model{'' if count == 1 else 's'}: "
        "the sample confidence fills in here once each is evaluated."
    )
    if sampling.refused is None:
        messages.success(request, text)
    else:
        messages.warning(
            request, f"{text} The other runs were not sampled: {sampling.refused}"
        )
    return redirect(back)
