"""The landing page and the dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from webapp.gallery.models import Gallery, GalleryQuerySet
from webapp.jobs import serving
from webapp.jobs.models import Job, JobQuerySet, ModelVersion
from webapp.web.views.shared import PHASE_LABELS, request_user, sample_images

LANDING_DEFAULT_SAMPLES = 8


def _int_param(params: QueryDict, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, low), high)


def _demo_job() -> Job | None:
    """The public demo model's training, while it is still on its way."""
    return Job.objects.demo_trainings().order_by("created_at").first()


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """What the product does, with live samples from the public demo model."""
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    model_version = serving.serving_model_version(AnonymousUser())
    count = _int_param(request.GET, "n", LANDING_DEFAULT_SAMPLES, 1, 16)
    images: list[str] = []
    error = None
    if model_version is not None:
        images, error = sample_images(model_version, count)
    return render(
        request,
        "web/landing.html",
        {
            "model_version": model_version,
            "images": images,
            "error": error,
            "count": count,
            "counts": range(1, 17),
            "demo_job": _demo_job() if model_version is None else None,
        },
    )


#: How many of the newest jobs and galleries the dashboard lists.
RECENT_JOBS = 8
LATEST_GALLERIES = 4


def _newest_jobs(user: AbstractBaseUser) -> JobQuerySet:
    return Job.objects.for_owner(user).order_by("-created_at", "-pk")


def _newest_galleries(user: AbstractBaseUser) -> GalleryQuerySet:
    return Gallery.objects.for_owner(user).order_by("-created_at", "-pk")


def _listed(job_ids: Iterable[object], gallery_ids: Iterable[object]) -> str:
    """What the dashboard lists, in one string: the ids of its jobs, then of its
    galleries, newest first. dashboard.js compares the page's with the counts'
    to see that a list is out of date (a job or gallery made or deleted elsewhere)."""
    return ",".join(map(str, job_ids)) + ";" + ",".join(map(str, gallery_ids))


def _counts(user: AbstractBaseUser) -> dict[str, int]:
    """The dashboard's figures: queued and running jobs, model versions, galleries."""
    # Filtered on the states counted, so that the owner's unfinished jobs are read
    # (through their index), not their whole history.
    counts: dict[str, int] = (
        Job.objects.for_owner(user)
        .filter(state__in=(Job.State.QUEUED, Job.State.RUNNING))
        .aggregate(
            queued=Count("pk", filter=Q(state=Job.State.QUEUED)),
            running=Count("pk", filter=Q(state=Job.State.RUNNING)),
        )
    )
    counts["models"] = ModelVersion.objects.for_owner(user).count()
    counts["galleries"] = Gallery.objects.for_owner(user).count()
    return counts


def _recent(user: AbstractBaseUser) -> dict[str, Any]:
    """The dashboard's lists of recent jobs and latest galleries."""
    jobs = list(_newest_jobs(user).with_results()[:RECENT_JOBS])
    galleries = list(_newest_galleries(user).with_model_version()[:LATEST_GALLERIES])
    return {
        "recent_jobs": jobs,
        "recent_galleries": galleries,
        "listed": _listed(
            (job.pk for job in jobs), (gallery.pk for gallery in galleries)
        ),
        "phase_labels": PHASE_LABELS,
    }


@login_required
@require_GET
def dashboard_counts(request: HttpRequest) -> JsonResponse:
    """The dashboard's figures as JSON, polled to keep them live, with what its
    lists should hold (`_listed`; the page itself has the ids it lists)."""
    user = request_user(request)
    listed = _listed(
        _newest_jobs(user).values_list("pk", flat=True)[:RECENT_JOBS],
        _newest_galleries(user).values_list("pk", flat=True)[:LATEST_GALLERIES],
    )
    return JsonResponse({**_counts(user), "listed": listed})


@login_required
@require_GET
def dashboard_recent(request: HttpRequest) -> HttpResponse:
    """The dashboard's lists alone, swapped in live when a job or a gallery was
    made elsewhere (another tab, the API)."""
    return render(request, "web/_dashboard_recent.html", _recent(request_user(request)))


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    default_model = serving.default_model_version(user)
    demo_model = None
    quick_count = _int_param(request.GET, "n", 8, 1, 16)
    quick_samples: list[str] = []
    if default_model is None:
        demo_model = serving.serving_model_version(AnonymousUser())
    else:
        quick_samples, _ = sample_images(default_model, quick_count)
    return render(
        request,
        "web/dashboard.html",
        {
            "counts": _counts(user),
            "default_model": default_model,
            "demo_model": demo_model,
            "quick_samples": quick_samples,
            "quick_count": quick_count,
            "counts_choices": range(1, 17),
            **_recent(user),
        },
    )
