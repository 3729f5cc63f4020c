"""A gallery's page, renaming and deleting it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.file_responses import png_data_url
from webapp.gallery.models import Gallery
from webapp.web import charts
from webapp.web.views.share_links import share_links_context
from webapp.web.views.shared import (
    confirm_delete,
    rename_from_post,
    request_user,
    settings_rows,
    visible_model_versions,
)


def _own_gallery(request: HttpRequest, pk: int) -> Gallery:
    return get_object_or_404(Gallery.objects.for_owner(request_user(request)), pk=pk)


def gallery_context(
    gallery: Gallery, *, share_token: str | None = None
) -> dict[str, Any]:
    """What the gallery page shows; with ``share_token``, as its share page (files
    through the token, no links to the owner's other things).

    ``gallery`` comes with its images' PNG bytes (``with_images(pngs=True)``)."""
    evaluation = gallery.evaluation or None
    histogram = None
    if evaluation and evaluation.get("class_histogram"):
        histogram = charts.histogram_chart(
            evaluation.get("classes") or range(len(evaluation["class_histogram"])),
            evaluation["class_histogram"],
            requested=gallery.digit,
        )
    model_version = gallery.model_version
    if share_token is None:
        own = {"pk": gallery.pk}
        files = {
            "grid_url": reverse("api:gallery-grid", kwargs=own),
            "zip_url": reverse("api:gallery-download", kwargs=own),
            "gif_url": reverse("api:gallery-gif", kwargs=own),
        }
        image_view, token = "api:image-png", {}
    else:
        token = {"token": share_token}
        files = {
            "grid_url": reverse("web:share-grid", kwargs=token),
            "zip_url": reverse("web:share-zip", kwargs=token),
            "gif_url": reverse("web:share-gif", kwargs=token),
        }
        image_view = "web:share-image"
    return {
        "gallery": gallery,
        "shared": share_token is not None,
        "is_walk": gallery.mode == Gallery.Mode.WALK,
        "walk_from": gallery.walk_end("from"),
        "walk_to": gallery.walk_end("to"),
        # Inline, so the page costs a handful of requests rather than one per
        # image (a few hundred bytes each); the link still downloads the file.
        "images": [
            (
                image,
                reverse(image_view, kwargs={**token, "pk": image.pk}),
                png_data_url(bytes(image.png)),
            )
            for image in gallery.images.all()
        ],
        "evaluation": evaluation,
        "histogram": histogram,
        "model_version": model_version,
        "settings_rows": settings_rows(model_version.settings)
        if model_version is not None
        else [],
        **files,
    }


@login_required
@require_GET
def gallery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gallery = get_object_or_404(
        Gallery.objects.for_owner(request_user(request))
        .with_model_version()
        .with_images(pngs=True)
        .select_related("job"),
        pk=pk,
    )
    context = gallery_context(gallery)
    context.update(share_links_context(request, gallery=gallery))
    # A walk needs two images and a model that still exists, for this user.
    model_version_id = gallery.model_version_id
    context["walk_form"] = (
        model_version_id is not None
        and gallery.n_images > 1
        and visible_model_versions(request_user(request))
        .filter(pk=model_version_id)
        .exists()
    )
    return render(request, "web/gallery.html", context)


@login_required
@require_POST
def gallery_rename(request: HttpRequest, pk: int) -> HttpResponse:
    rename_from_post(request, _own_gallery(request, pk), "Gallery")
    return redirect("web:gallery", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def gallery_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete as ``DELETE /api/v1/galleries/{id}`` does."""
    gallery = _own_gallery(request, pk)
    if request.method == "POST":
        gallery.delete()
        messages.success(request, f"Gallery “{gallery.title}” deleted.")
        return redirect(f"{reverse('web:history')}?tab=galleries")
    plural = "" if gallery.n_images == 1 else "s"
    return confirm_delete(
        request,
        what=f"the gallery “{gallery.title}”",
        consequences=[f"Its {gallery.n_images} image{plural} go with it."],
        back_url=reverse("web:gallery", kwargs={"pk": pk}),
    )
