"""Parameter sweeps: one request that trains a model per combination of settings.

Not to be confused with the stale-job sweeper (``jobs.maintenance``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Count, OuterRef, Prefetch, Q

from webapp.gallery.models import sample_confidence, sample_gallery
from webapp.jobs.models import Job, ModelVersionQuerySet
from webapp.querysets import OwnedQuerySet


class SweepQuerySet(OwnedQuerySet["Sweep"]):
    def with_progress(self) -> SweepQuerySet:
        """Annotate ``total``, ``finished`` and ``succeeded`` runs, newest first
        (Meta.ordering is dropped from a query with aggregates)."""
        return self.order_by("-created_at").annotate(
            total=Count("runs"),
            finished=Count("runs", filter=Q(runs__job__state__in=Job.FINISHED_STATES)),
            succeeded=Count("runs", filter=Q(runs__job__state=Job.State.SUCCEEDED)),
        )

    def with_runs(self) -> SweepQuerySet:
        """Prefetch the runs with their jobs and model versions (files left out),
        each run annotated with its model's ``sample_confidence`` and the id of
        the ``sample_gallery`` it comes from (None without)."""
        runs = (
            SweepRun.objects.select_related("job", "job__model_version")
            .defer(ModelVersionQuerySet.file_through("job__model_version"))
            .annotate(
                sample_confidence=sample_confidence(OuterRef("job__model_version")),
                sample_gallery=sample_gallery(OuterRef("job__model_version")),
            )
        )
        return self.prefetch_related(Prefetch("runs", queryset=runs))


class Sweep(models.Model):
    """A parameter sweep: a base training run and the grid of settings varied."""

    class State(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        # Every run ended and at least one failed or was cancelled on its own.
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by sweep_owner_recent, which leads with it.
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sweeps",
        db_index=False,
    )
    name = models.CharField(max_length=100)
    # The request's base run (preset and settings) and the grid, each setting's
    # distinct values in the order given.
    base = models.JSONField(default=dict)
    grid = models.JSONField(default=dict)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = SweepQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["owner", "-created_at"], name="sweep_owner_recent"),
        )

    def __str__(self) -> str:
        return f"parameter sweep {self.name}"

    @property
    def state(self) -> str:
        """Derived from the runs; needs `SweepQuerySet.with_progress`."""
        counts: Any = self
        if counts.finished < counts.total:
            return self.State.RUNNING
        if self.cancelled_at is not None:
            return self.State.CANCELLED
        if counts.succeeded == counts.total:
            return self.State.SUCCEEDED
        return self.State.FAILED


class SweepRun(models.Model):
    """One combination of a sweep and the training job that runs it."""

    # Indexed by sweep_run_position, which leads with it.
    sweep = models.ForeignKey(
        Sweep, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="sweep_run")
    position = models.PositiveIntegerField()
    # The grid's settings for this run ({"kernel": "gaussian", ...}).
    values = models.JSONField(default=dict)

    class Meta:
        ordering = ("sweep", "position")
        constraints = (
            models.UniqueConstraint(
                fields=["sweep", "position"], name="sweep_run_position"
            ),
        )

    def __str__(self) -> str:
        return f"run {self.position} of {self.sweep}"
