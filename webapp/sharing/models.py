"""Read-only share links: an unguessable token that opens one gallery or one
model version to anyone who has it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from webapp.querysets import OwnedQuerySet


class ShareLink(models.Model):
    """One link to one object; deleting the row revokes it."""

    class Target(models.TextChoices):
        GALLERY = "gallery"
        MODEL_VERSION = "model_version"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    # SHA-256 of the token, never the token itself: whoever reads the table (a
    # backup, a leaked dump) holds no working link.
    token_digest = models.CharField(max_length=64, unique=True)
    gallery = models.ForeignKey(
        "gallery.Gallery",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="share_links",
    )
    model_version = models.ForeignKey(
        "jobs.ModelVersion",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="share_links",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = OwnedQuerySet["ShareLink"].as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = (
            models.CheckConstraint(
                condition=(Q(gallery__isnull=False) & Q(model_version__isnull=True))
                | (Q(gallery__isnull=True) & Q(model_version__isnull=False)),
                name="share_link_opens_exactly_one_object",
            ),
        )

    def __str__(self) -> str:
        return f"share link {self.pk} to {self.target} {self.target_id}"

    @property
    def target(self) -> str:
        if self.gallery_id is not None:
            return self.Target.GALLERY
        return self.Target.MODEL_VERSION

    @property
    def target_id(self) -> int:
        target_id = self.gallery_id or self.model_version_id
        assert target_id is not None
        return target_id
