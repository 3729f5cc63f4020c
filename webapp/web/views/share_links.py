"""The owner's side of share links on the gallery and model pages: create one,
see them, revoke one."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from webapp.gallery.models import Gallery
from webapp.jobs.models import ModelVersion
from webapp.sharing import services
from webapp.sharing.models import ShareLink
from webapp.web.views.shared import request_user

# The token exists only until its page shows it once: the table keeps a hash.
_NEW_LINK_SESSION_KEY = "new_share_link"


def share_links_context(
    request: HttpRequest,
    *,
    gallery: Gallery | None = None,
    model_version: ModelVersion | None = None,
) -> dict[str, Any]:
    """The owner's links to this object, and the URL of one just created."""
    links = list(
        ShareLink.objects.for_owner(request_user(request)).filter(
            gallery=gallery, model_version=model_version
        )
    )
    new_link = request.session.get(_NEW_LINK_SESSION_KEY)
    new_url = None
    if new_link is not None and new_link["id"] in {link.pk for link in links}:
        new_url = new_link["url"]
        del request.session[_NEW_LINK_SESSION_KEY]
    return {"share_links": links, "new_share_url": new_url}


def _create(request: HttpRequest, shared: Gallery | ModelVersion) -> None:
    link, token = services.create_share_link(shared)
    request.session[_NEW_LINK_SESSION_KEY] = {
        "id": link.pk,
        "url": request.build_absolute_uri(services.share_path(token)),
    }
    messages.success(
        request,
        "Share link created: anyone with it can see this page, read-only, "
        "until you revoke it. Copy it now; it is shown only once.",
    )


@login_required
@require_POST
def gallery_share(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a share link as ``POST /api/v1/galleries/{id}/share`` does."""
    gallery = get_object_or_404(Gallery.objects.for_owner(request_user(request)), pk=pk)
    _create(request, gallery)
    return redirect("web:gallery", pk=pk)


@login_required
@require_POST
def model_share(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a share link as ``POST /api/v1/model-versions/{id}/share`` does."""
    model_version = get_object_or_404(
        ModelVersion.objects.for_owner(request_user(request)).without_file(), pk=pk
    )
    _create(request, model_version)
    return redirect("web:model", pk=pk)


@login_required
@require_POST
def share_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke as ``DELETE /api/v1/share-links/{id}`` does, back to the object."""
    link = get_object_or_404(ShareLink.objects.for_owner(request_user(request)), pk=pk)
    link.delete()
    messages.success(request, "Share link revoked: it no longer opens anything.")
    if link.gallery_id is not None:
        return redirect("web:gallery", pk=link.gallery_id)
    return redirect("web:model", pk=link.model_version_id)
