"""Training runs, model versions and galleries, filtered, sorted and paged."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.gallery.models import Gallery
from webapp.jobs.models import Job, ModelVersion
from webapp.web import training_options
from webapp.web.filters import (
    JOB_KINDS,
    GalleryHistoryFilter,
    HistoryFilter,
    JobHistoryFilter,
    ModelVersionHistoryFilter,
)
from webapp.web.views.shared import PHASE_LABELS, request_user

PAGE_SIZE = 20
HISTORY_TABS = {
    "runs": "Training runs",
    "models": "Model versions",
    "galleries": "Galleries",
}
HISTORY_FILTERS: dict[str, type[HistoryFilter]] = {
    "runs": JobHistoryFilter,
    "models": ModelVersionHistoryFilter,
    "galleries": GalleryHistoryFilter,
}

_M = TypeVar("_M", bound=Model)


def _page(request: HttpRequest, rows: QuerySet[_M] | list[_M]) -> Page[_M]:
    paginator = Paginator(rows, PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """Training runs, model versions and galleries with filters, sorting, pages."""
    user = request_user(request)
    tab = request.GET.get("tab", "runs")
    if tab not in HISTORY_TABS:
        tab = "runs"
    own: dict[str, QuerySet[Any]] = {
        "runs": Job.objects.for_owner(user).with_results(),
        "models": ModelVersion.objects.for_owner(user).without_file(),
        "galleries": Gallery.objects.for_owner(user).with_model_version(),
    }
    totals = {
        "runs": own["runs"].filter(kind=Job.Kind.TRAINING).count(),
        "models": own["models"].count(),
        "galleries": own["galleries"].count(),
    }
    filters = HISTORY_FILTERS[tab](request.GET, queryset=own[tab], request=request)
    applied = filters.applied()
    since, until = applied.get("since"), applied.get("until")
    return render(
        request,
        "web/history.html",
        {
            "tab": tab,
            "tabs": HISTORY_TABS,
            "totals": totals,
            "page": _page(request, filters.rows()),
            "unfiltered": filters.unfiltered_count(),
            "filtered": filters.is_filtered(),
            "state": applied.get("state") or "",
            "states": Job.State.values,
            "kind": applied.get("kind", "training"),
            "kinds": JOB_KINDS,
            "dataset": applied.get("dataset") or "",
            "datasets": training_options.DATASET_NAMES,
            "kernel": applied.get("kernel") or "",
            "kernels": training_options.KERNELS,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
            "sort": applied["sort"],
            "sorts": filters.sort_labels(),
            "phase_labels": PHASE_LABELS,
        },
    )
