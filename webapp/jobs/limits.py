"""Per-user limits checked before a job is queued: active jobs and storage.

`check_can_queue` runs inside the transaction that creates the job and locks the
user's row as `lock_owner` does: two submissions of one user are serialised on
it, so they cannot both take the last slot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    BigIntegerField,
    F,
    Func,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from webapp.gallery.models import Gallery
from webapp.jobs.models import Job, ModelVersion, lock_owner
from webapp.querysets import Placeholder, PreparedQuery

MEGABYTE = 1024 * 1024

#: Retry-After of a refused submission: roughly how long a slot takes to free.
RETRY_AFTER_SECONDS = {Job.Kind.TRAINING: 60, Job.Kind.GENERATION: 10}


class JobRefused(Exception):
    """The user may not queue another job now; the message says why.

    ``http_status`` is what the API and the pages answer; ``retry_after`` the
    seconds worth waiting (None when waiting does not help).
    """

    http_status: int
    retry_after: int | None = None


@dataclass(eq=False)
class TooManyActiveJobs(JobRefused):
    """The user has as many queued or running jobs of the kind as allowed."""

    kind: str
    active: int
    limit: int
    http_status = 429

    def __str__(self) -> str:
        return (
            f"You already have {self.active} {self.kind} "
            f"job{'' if self.active == 1 else 's'} queued or running, "
            f"the most allowed at once ({self.limit}). Wait for one to finish or "
            "cancel one, then try again."
        )

    def __post_init__(self) -> None:
        self.retry_after = RETRY_AFTER_SECONDS[Job.Kind(self.kind)]


@dataclass(eq=False)
class StorageQuotaExceeded(JobRefused):
    """The user's model files and images already fill their quota."""

    used_bytes: int
    quota_bytes: int
    http_status = 409

    def __str__(self) -> str:
        return (
            f"Your storage is full: you use {self.used_bytes / MEGABYTE:.1f} MB "
            f"of your {self.quota_bytes / MEGABYTE:.0f} MB quota. Delete model "
            "versions or galleries to free space, then try again."
        )


def active_limit(kind: str) -> int:
    if kind == Job.Kind.TRAINING:
        return int(settings.MAX_ACTIVE_TRAINING_JOBS)
    return int(settings.MAX_ACTIVE_GENERATION_JOBS)


def storage_quota_bytes() -> int:
    return int(settings.STORAGE_QUOTA_MB) * MEGABYTE


def _total(queryset: QuerySet[Any], function: str, field: str) -> Coalesce:
    """``function`` (COUNT, SUM) over ``queryset`` as a scalar subquery, 0 if none."""
    value = (
        queryset.order_by()
        .annotate(
            value=Func(F(field) if isinstance(field, str) else field, function=function)
        )
        .values("value")
    )
    return Coalesce(Subquery(value, output_field=BigIntegerField()), 0)


def _storage_used(owner_id: Placeholder) -> Combinable:
    # Each gallery stores its images' size: the sum runs over the owner's galleries
    # and model versions, not over every image they hold.
    return _total(
        ModelVersion.objects.filter(owner_id=owner_id), "SUM", "model_size"
    ) + _total(Gallery.objects.filter(owner_id=owner_id), "SUM", "images_size")


def _active_jobs(owner_id: int | Placeholder, kind: str | Placeholder) -> QuerySet[Job]:
    return Job.objects.filter(
        owner_id=owner_id,
        kind=kind,
        state__in=(Job.State.QUEUED, Job.State.RUNNING),
    )


def _owner_id() -> Placeholder:
    return Placeholder("owner_id", get_user_model()._meta.pk)


@functools.cache
def _storage_query() -> PreparedQuery:
    owner_id = _owner_id()
    return PreparedQuery(
        get_user_model()
        .objects.filter(pk=owner_id)
        .order_by()
        .values(used=_storage_used(owner_id))
    )


def storage_used(owner_id: int) -> int:
    """Bytes of the owner's model files and generated images, summed from the rows."""
    row = _storage_query().first(owner_id=owner_id)
    return int(row["used"]) if row is not None else 0


def active_jobs(owner_id: int, kind: str) -> int:
    """The owner's queued or running jobs of ``kind``: what the limit counts."""
    return _active_jobs(owner_id, kind).count()


def check_storage(owner_id: int) -> None:
    """Raise `StorageQuotaExceeded` if the owner's files fill their quota."""
    _check_storage(storage_used(owner_id))


def _check_storage(used: int) -> None:
    quota = storage_quota_bytes()
    if used >= quota:
        raise StorageQuotaExceeded(used_bytes=used, quota_bytes=quota)


@functools.cache
def _figures_query() -> PreparedQuery:
    """What `check_can_queue` reads of the owner ``owner_id``, for jobs of ``kind``:
    ``active``, ``used`` (bytes) and ``queued`` (anyone's)."""
    owner_id = _owner_id()
    kind = Placeholder("kind", Job._meta.get_field("kind"))
    return PreparedQuery(
        get_user_model()
        .objects.filter(pk=owner_id)
        .order_by()
        .values(
            # A column that job_unfinished holds (state is never NULL): the
            # owner's live jobs are counted from the index alone.
            active=_total(_active_jobs(owner_id, kind), "COUNT", "state"),
            used=_storage_used(owner_id),
            queued=_total(
                Job.objects.filter(kind=kind, state=Job.State.QUEUED), "COUNT", "pk"
            ),
        ),
    )


def check_can_queue(owner_id: int, kind: str) -> int:
    """Lock the owner's row, then raise a `JobRefused` unless the owner may queue a
    job of ``kind`` now; else return how many jobs of ``kind`` (anyone's) are
    queued, all of them ahead of one created now.

    Call it in the transaction that creates the job: the lock holds until it
    ends. One query takes it, one more reads every figure.
    """
    lock_owner(owner_id)
    # A statement of its own, started once the lock is granted: under READ
    # COMMITTED, the subqueries of the locking SELECT itself would still read the
    # snapshot taken before it waited, missing the job a concurrent submission
    # just committed.
    figures = _figures_query().first(owner_id=owner_id, kind=kind) or {
        "active": 0,
        "used": 0,
        "queued": 0,
    }
    active, used, queued = figures["active"], figures["used"], figures["queued"]
    limit = active_limit(kind)
    if active >= limit:
        raise TooManyActiveJobs(kind=kind, active=active, limit=limit)
    _check_storage(used)
    return int(queued)
