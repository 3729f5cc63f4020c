"""The share pages: what a share link opens to anyone, logged in or not.

Every view starts from the token and reaches only its one object (and, for a
gallery, that gallery's images): a token never opens anything else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from webapp import file_responses
from webapp.gallery import services as gallery_services
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import serving
from webapp.jobs.models import ModelVersion
from webapp.sharing.models import ShareLink
from webapp.sharing.services import find_share_link
from webapp.web.views.galleries import gallery_context
from webapp.web.views.model_versions import model_context
from webapp.web.views.shared import samples_response

_View = Callable[..., HttpResponseBase]


def share_view(view: _View) -> _View:
    """A GET-only share view, kept out of search engines, that leaks no token."""

    @require_GET
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        # Revalidated on every view, so a revoked link stops showing at once
        # even from the visitor's own cache.
        response["Cache-Control"] = "private, no-cache"
        # The token is in the path: links out must not carry it as a referrer.
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _link(token: str) -> ShareLink:
    link = find_share_link(token)
    if link is None:
        raise Http404("No such share link.")
    return link


def _gallery_of(link: ShareLink, *, pngs: bool = False) -> Gallery:
    if link.gallery_id is None:
        raise Http404("This link opens no gallery.")
    return get_object_or_404(
        Gallery.objects.with_model_version().with_images(pngs=pngs),
        pk=link.gallery_id,
    )


def _model_version_of(link: ShareLink) -> ModelVersion:
    if link.model_version_id is None:
        raise Http404("This link opens no model version.")
    return get_object_or_404(
        ModelVersion.objects.without_file(), pk=link.model_version_id
    )


def _shared_gallery(token: str) -> Gallery:
    return _gallery_of(_link(token))


def _shared_model_version(token: str) -> ModelVersion:
    return _model_version_of(_link(token))


@share_view
def share_page(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(token)
    if link.gallery_id is not None:
        context = gallery_context(_gallery_of(link, pngs=True), share_token=token)
        return render(request, "web/gallery.html", context)
    context = model_context(_model_version_of(link), share_token=token)
    return render(request, "web/model.html", context)


@share_view
def share_image(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    gallery = _shared_gallery(token)
    image = get_object_or_404(GeneratedImage.objects.filter(gallery=gallery), pk=pk)
    return file_responses.image_response(image)


@share_view
def share_grid(request: HttpRequest, token: str) -> HttpResponse:
    png = gallery_services.gallery_grid_png(_shared_gallery(token))
    return file_responses.png_response(png)


@share_view
def share_zip(request: HttpRequest, token: str) -> HttpResponse:
    return file_responses.gallery_zip_response(_shared_gallery(token))


@share_view
def share_gif(request: HttpRequest, token: str) -> HttpResponse:
    gallery = _shared_gallery(token)
    if gallery.mode != Gallery.Mode.WALK:
        raise Http404("Only a walk has an animated GIF.")
    return file_responses.gallery_gif_response(gallery)


@share_view
def share_model_file(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        return file_responses.model_file_response(_shared_model_version(token))
    except serving.ModelUnavailable as error:
        return HttpResponse(str(error), status=503, content_type="text/plain")


@share_view
def share_samples(request: HttpRequest, token: str) -> HttpResponse:
    """Fresh samples for the shared model page's "Draw new ones"."""
    return samples_response(request, _shared_model_version(token))
