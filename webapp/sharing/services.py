"""Use cases of share links: creating one, and finding what a token opens."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from django.urls import reverse

from webapp.gallery.models import Gallery
from webapp.sharing.models import ShareLink

if TYPE_CHECKING:
    from webapp.jobs.models import ModelVersion

# 256 bits: guessing a live token is out of reach, so unknown tokens need no
# throttle of their own.
TOKEN_BYTES = 32


def token_digest(token: str) -> str:
    """What the table stores of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def share_path(token: str) -> str:
    """The share page's path for a token."""
    return reverse("web:share", kwargs={"token": token})


def create_share_link(shared: Gallery | ModelVersion) -> tuple[ShareLink, str]:
    """A new link to a gallery or model version, owned by its owner, and its token
    (the only time the token exists outside the link itself)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(owner_id=shared.owner_id, token_digest=token_digest(token))
    if isinstance(shared, Gallery):
        link.gallery = shared
    else:
        link.model_version = shared
    link.save()
    return link, token


def find_share_link(token: str) -> ShareLink | None:
    """The live link a token belongs to, if any (revoked links are deleted)."""
    return ShareLink.objects.filter(token_digest=token_digest(token)).first()
