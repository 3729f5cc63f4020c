"""Galleries: the images a generation job produced, stored as PNG bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import FloatField, Prefetch, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from webapp.jobs.models import ModelVersionQuerySet
from webapp.querysets import OwnedQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def describe_walk_end(walk: dict[str, Any] | None, side: str) -> str:
    """One end (``side``: "from" or "to") of a walk's end points in words:
    "digit 3", "image #12", "a random sample"."""
    walk = walk or {}
    if walk.get(f"{side}_digit") is not None:
        return f"digit {walk[f'{side}_digit']}"
    if walk.get(f"{side}_image") is not None:
        return f"image #{walk[f'{side}_image']}"
    return "a random sample"


class GalleryQuerySet(OwnedQuerySet["Gallery"]):
    """The queries the API and the pages share."""

    def with_model_version(self) -> GalleryQuerySet:
        """Join each gallery's model version, leaving its model file behind."""
        return self.select_related("model_version").defer(
            ModelVersionQuerySet.file_through("model_version")
        )

    def independent_samples(self) -> GalleryQuerySet:
        """Galleries of independent samples with no digit asked: those whose
        evaluation is a model version's sample confidence."""
        return self.filter(mode=Gallery.Mode.SAMPLES, digit__isnull=True)

    def with_images(self, *, pngs: bool = False) -> GalleryQuerySet:
        """Prefetch each gallery's images, without their PNG bytes unless ``pngs``."""
        images = (
            GeneratedImage.objects.all()
            if pngs
            else GeneratedImage.objects.defer("png")
        )
        return self.prefetch_related(Prefetch("images", queryset=images))


def _newest_sample_gallery(model_version: Any) -> GalleryQuerySet:
    """The newest evaluated gallery of a model version's independent samples with
    no digit asked (first of this); ``model_version`` a value or an OuterRef."""
    return (
        Gallery.objects.independent_samples()
        .filter(
            model_version=model_version,
            evaluation_state=Gallery.EvaluationState.DONE,
        )
        .order_by("-created_at", "-pk")
    )


def sample_confidence(model_version: Any) -> Subquery:
    """A model version's sample confidence: the digit classifier's mean confidence
    on its newest evaluated sample gallery (`sample_gallery`), a gallery's own
    quality figure; ``model_version`` a value or an OuterRef."""
    return Subquery(
        _newest_sample_gallery(model_version)
        # As a number on both backends: SQLite's JSON_EXTRACT gives one already,
        # which a JSON field's converter would then try to decode.
        .annotate(
            confidence=Cast(
                KeyTextTransform("mean_confidence", "evaluation"), FloatField()
            )
        )
        .values("confidence")[:1]
    )


def sample_gallery(model_version: Any) -> Subquery:
    """The id of the gallery a model version's sample confidence comes from."""
    return Subquery(_newest_sample_gallery(model_version).values("pk")[:1])


class GeneratedImageQuerySet(models.QuerySet["GeneratedImage"]):
    def for_owner(
        self, user: AbstractBaseUser | AnonymousUser
    ) -> GeneratedImageQuerySet:
        return self.filter(gallery__owner_id=user.pk)


class Gallery(models.Model):
    """The result of one generation job."""

    class EvaluationState(models.TextChoices):
        #: Queued as a ``gallery.evaluate`` task after the images were stored.
        PENDING = "pending"
        DONE = "done"
        #: The task could not compute the figures (``evaluation`` stays empty).
        FAILED = "failed"
        #: Evaluation was switched off (GALLERY_EVALUATION) when it was made.
        OFF = "off"

    class Mode(models.TextChoices):
        SAMPLES = "samples"
        WALK = "walk"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="galleries"
    )
    # Deleting the job keeps its result, as for a training job's model version.
    job = models.OneToOneField(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gallery",
    )
    # Blank: shown as "<n> images" (of digit d).
    name = models.CharField(max_length=100, blank=True)
    model_version = models.ForeignKey(
        "jobs.ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        related_name="galleries",
    )
    n_images = models.PositiveIntegerField()
    # The bytes of its images' PNGs, written with them (a gallery's images never
    # change): what it counts against its owner's storage quota.
    images_size = models.PositiveBigIntegerField(default=0)
    digit = models.PositiveSmallIntegerField(null=True, blank=True)
    seed = models.PositiveBigIntegerField()
    temperature = models.FloatField(default=1.0)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SAMPLES)
    # A walk's end points: from_digit, to_digit, from_image, to_image (None: a
    # random sample). None for samples.
    walk = models.JSONField(null=True, blank=True)
    # generator.evaluate's figures, filled in by the gallery.evaluate task once
    # the images are stored; None until then, or when it was off or failed.
    evaluation = models.JSONField(null=True, blank=True)
    evaluation_state = models.CharField(
        max_length=10, choices=EvaluationState.choices, default=EvaluationState.OFF
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = GalleryQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = "galleries"

    def __str__(self) -> str:
        return f"gallery {self.pk} ({self.n_images} images)"

    @property
    def title(self) -> str:
        """Its name, or what it holds: "16 images of digit 7", "Walk from digit 3
        to a random sample (16 frames)"."""
        if self.name:
            return self.name
        if self.walk is not None:
            return (
                f"Walk from {self.walk_end('from')} to {self.walk_end('to')} "
                f"({self.n_images} frames)"
            )
        plural = "" if self.n_images == 1 else "s"
        digit = "" if self.digit is None else f" of digit {self.digit}"
        return f"{self.n_images} image{plural}{digit}"

    def walk_end(self, side: str) -> str:
        """One end of its walk in words (see `describe_walk_end`)."""
        return describe_walk_end(self.walk, side)


class GeneratedImage(models.Model):
    """One image: ``sample(1, digit=digit, random_state=seed)`` of the model, or
    a frame of a walk (with the walk's seed)."""

    # Indexed by one_image_per_gallery_index, which leads with it.
    gallery = models.ForeignKey(
        Gallery, on_delete=models.CASCADE, related_name="images", db_index=False
    )
    index = models.PositiveIntegerField()
    digit = models.PositiveSmallIntegerField(null=True, blank=True)
    seed = models.PositiveBigIntegerField()
    png = models.BinaryField()

    objects = GeneratedImageQuerySet.as_manager()

    class Meta:
        ordering = ("gallery", "index")
        constraints = (
            models.UniqueConstraint(
                fields=["gallery", "index"], name="one_image_per_gallery_index"
            ),
        )

    def __str__(self) -> str:
        return f"image {self.index} of gallery {self.gallery_id}"
