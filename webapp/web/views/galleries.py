"""A gallery's page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from webapp.gallery.models import Gallery
from webapp.web import charts
from webapp.web.views.shared import request_user, settings_rows


@login_required
@require_GET
def gallery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gallery = get_object_or_404(
        Gallery.objects.for_owner(request_user(request))
        .with_model_version()
        .with_images()
        .select_related("job"),
        pk=pk,
    )
    images = list(gallery.images.all())
    evaluation = gallery.evaluation or None
    histogram = None
    if evaluation and evaluation.get("class_histogram"):
        histogram = charts.histogram_chart(
            evaluation.get("classes") or range(len(evaluation["class_histogram"])),
            evaluation["class_histogram"],
            requested=gallery.digit,
        )
    model_version = gallery.model_version
    return render(
        request,
        "web/gallery.html",
        {
            "gallery": gallery,
            "images": images,
            "evaluation": evaluation,
            "histogram": histogram,
            "model_version": model_version,
            "settings_rows": settings_rows(model_version.settings)
            if model_version is not None
            else [],
            "grid_url": reverse("api:gallery-grid", kwargs={"pk": gallery.pk}),
            "zip_url": reverse("api:gallery-download", kwargs={"pk": gallery.pk}),
        },
    )
