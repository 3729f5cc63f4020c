"""Jobs (the source of truth for every background task) and model versions."""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections, models
from django.db.models import (
    Case,
    Count,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Now
from django.db.transaction import TransactionManagementError

from webapp.querysets import OwnedQuerySet, Placeholder, PreparedQuery

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class JobQuerySet(OwnedQuerySet["Job"]):
    """The queries the API and the pages share."""

    def with_results(self) -> JobQuerySet:
        """Annotate the ids of the model version or gallery each job created, and
        the queue position of each queued one (see `queued_ahead_of`)."""
        return self.annotate(**_result_annotations())

    def queued_ahead_of(self, kind: Any, created_at: Any, pk: Any) -> JobQuerySet:
        """Queued jobs of ``kind`` that start before the job created at
        ``created_at`` with id ``pk`` (values or ``OuterRef``s): only what is
        ahead in the same queue, which says nothing about the jobs behind it, the
        other queue or anyone's running jobs."""
        return self.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk),
            # Implied by the line above, but a range that job_queued can read:
            # the count reads the jobs ahead, not the whole queue.
            created_at__lte=created_at,
            kind=kind,
            state=Job.State.QUEUED,
        )

    def fail(self, error: str) -> int:
        """Mark these jobs failed now, saying why; returns how many."""
        return self.update(state=Job.State.FAILED, finished_at=Now(), error=error)

    def demo_trainings(self) -> JobQuerySet:
        """Trainings of a public model that are still on their way."""
        return self.filter(
            kind=Job.Kind.TRAINING,
            publish_model=True,
            state__in=[Job.State.QUEUED, Job.State.RUNNING],
        )


@functools.cache
def _result_annotations() -> dict[str, Any]:
    """`JobQuerySet.with_results`'s expressions, built once: building the queue
    position's subquery cost a fifth of a status poll. Every use copies them."""
    ahead = (
        Job.objects.queued_ahead_of(
            OuterRef("kind"), OuterRef("created_at"), OuterRef("pk")
        )
        .order_by()
        .values("kind")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return {
        "result_model_version_id": F("model_version__id"),
        "result_gallery_id": F("gallery__id"),
        # In the same query: a poll costs one query besides authentication.
        "queue_position": Case(
            When(
                state=Job.State.QUEUED,
                then=Coalesce(Subquery(ahead), Value(0)) + Value(1),
            ),
            default=None,
            output_field=IntegerField(),
        ),
    }


class Job(models.Model):
    """One training or generation request and everything known about its run."""

    class Kind(models.TextChoices):
        TRAINING = "training"
        GENERATION = "generation"

    class State(models.TextChoices):
        # Held back until its owner has a free slot (a parameter sweep's runs):
        # not in the broker, not counted by the per-user limits.
        WAITING = "waiting"
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by job_owner_recent, which leads with it.
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="jobs",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    # Indexed where it is live: job_unfinished and job_queued (see Meta).
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    # Training: TrainingSettings.to_dict(). Generation: model_version, n_images,
    # digit, seed, temperature. Always validated before the row is written.
    params = models.JSONField(default=dict)
    # Training only: the resulting model version is public (the demo model).
    publish_model = models.BooleanField(default=False)
    progress = models.FloatField(default=0.0)
    phase = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # A failed job's last log lines on its worker: the context around the error.
    log_tail = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    # Its worker is stopping (SIGTERM): a running training goes back to the queue
    # at its next progress report, without using up an attempt.
    requeue_requested = models.BooleanField(default=False)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the job's message was last sent to the broker (at first, when the row
    # was written: a web process may die before sending it). The sweeper sends a
    # job queued for long again when the broker no longer holds its message.
    dispatched_at = models.DateTimeField(db_default=Now())

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["owner", "-created_at"], name="job_owner_recent"),
            # Only unfinished jobs are indexed by their state: finished ones, nearly
            # every row, are never looked up by it. So an owner's limits count
            # their own live jobs and the queue position counts the queue, not the
            # table's history nor (for the limits) everyone else's queue.
            models.Index(
                fields=["owner", "kind", "state"],
                condition=Q(state__in=["waiting", "queued", "running"]),
                name="job_unfinished",
            ),
            # In queue order; the kind comes along, so that the count ahead of a
            # job reads the index alone.
            models.Index(
                fields=["created_at", "id", "kind"],
                condition=Q(state="queued"),
                name="job_queued",
            ),
        )
        constraints = (
            models.CheckConstraint(
                condition=Q(progress__gte=0.0) & Q(progress__lte=1.0),
                name="job_progress_in_unit_interval",
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in self.FINISHED_STATES

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class ModelVersionQuerySet(OwnedQuerySet["ModelVersion"]):
    """The queries the API and the pages share."""

    def visible_to(
        self, user: AbstractBaseUser | AnonymousUser
    ) -> ModelVersionQuerySet:
        """What ``user`` may read and sample: their own and public versions."""
        return self.visible_to_user_id(user.pk if user.is_authenticated else None)

    def visible_to_user_id(self, user_id: Any) -> ModelVersionQuerySet:
        """`visible_to` the user ``user_id`` (None: an anonymous visitor), or to
        the user a `webapp.querysets.Placeholder` stands for."""
        visible = Q(is_public=True)
        if user_id is not None:
            visible |= Q(owner_id=user_id)
        return self.filter(visible)

    # The field that holds a version's model file: megabytes of bytes.
    FILE_FIELD = "model_file"

    def without_file(self) -> ModelVersionQuerySet:
        """Leave the model file in the database."""
        return self.defer(self.FILE_FIELD)

    @classmethod
    def file_through(cls, relation: str) -> str:
        """The model file of the model version reached by ``relation``, for
        ``defer()`` on a query that joins it."""
        return f"{relation}__{cls.FILE_FIELD}"


class ModelVersion(models.Model):
    """A trained model: its settings, metrics and the .npz file itself."""

    # Indexed by model_version_number_per_owner, which leads with it.
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="model_versions",
        db_index=False,
    )
    name = models.CharField(max_length=100)
    # 1, 2, 3... per owner, in creation order.
    version = models.PositiveIntegerField()
    dataset = models.CharField(max_length=32)
    dataset_digest = models.CharField(max_length=64, blank=True)
    settings = models.JSONField(default=dict)
    seed = models.PositiveBigIntegerField(default=0)
    code_version = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict)
    # In the database so that web servers and workers never need a shared disk.
    model_file = models.BinaryField(editable=False)
    model_sha256 = models.CharField(max_length=64)
    model_size = models.PositiveBigIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    is_public = models.BooleanField(default=False)
    training_job = models.OneToOneField(
        Job,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="model_version",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=["owner", "version"], name="model_version_number_per_owner"
            ),
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_default=True),
                name="one_default_model_per_owner",
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_class_conditional(self) -> bool:
        return bool(self.settings.get("class_conditional"))

    @property
    def default_temperature(self) -> float:
        """The sampling temperature its generations use unless told otherwise."""
        return float(self.settings.get("temperature", 1.0))

    def stats(self) -> dict[str, Any]:
        """The old app's ``/stats`` figures; a per-class model adds its classes'.

        For one PCA per class, ``pca_components`` is the largest class's count,
        ``variance_explained`` and ``kde_bandwidth`` the class-frequency-weighted
        means, and ``per_class`` lists each class's ``class``, ``n_train``,
        ``n_components``, ``explained_variance`` and ``bandwidth``.
        """
        metrics = self.metrics
        stats: dict[str, Any] = {
            "pca_components": metrics.get("n_components"),
            "variance_explained": metrics.get("explained_variance"),
            "kde_bandwidth": metrics.get("bandwidth"),
            "original_dim": metrics.get("original_dim"),
            "reduced_dim": metrics.get("n_components"),
        }
        if metrics.get("per_class"):
            stats["pca_scope"] = "per_class"
            stats["per_class"] = [
                {
                    key: row.get(key)
                    for key in (
                        "class",
                        "n_train",
                        "n_components",
                        "explained_variance",
                        "bandwidth",
                    )
                }
                for row in metrics["per_class"]
            ]
        return stats


def stale_after() -> timedelta:
    """How old a running job's heartbeat may get (JOB_STALE_AFTER_SECONDS)."""
    return timedelta(seconds=django_settings.JOB_STALE_AFTER_SECONDS)


def heartbeat_is_stale(age: timedelta | Expression | None = None) -> Q:
    """A job's heartbeat is older than ``age`` (by default `stale_after`; a
    compiled statement passes a `Placeholder` for it).

    Judged by the database's clock, which also writes every heartbeat: servers
    whose clocks disagree still agree on which jobs are stale.
    """
    return Q(heartbeat_at__lt=Now() - (stale_after() if age is None else age))


@functools.cache
def _owner_lock() -> PreparedQuery:
    user_model = get_user_model()
    return PreparedQuery(
        user_model.objects.select_for_update()
        .filter(pk=Placeholder("pk", user_model._meta.pk))
        .values("pk")
    )


def lock_owner(owner_id: int) -> None:
    """Lock the owner's row until the transaction ends.

    Serialises per-owner version numbering and default swaps (a no-op on SQLite,
    where write transactions are serial anyway). Every submission takes it: its
    query is compiled once per process.
    """
    lock = _owner_lock()
    if connections[lock.using].get_autocommit():
        # What select_for_update() refuses when compiled (once per process): the
        # lock would end with its statement.
        raise TransactionManagementError("lock_owner needs a transaction.")
    lock.first(pk=owner_id)
