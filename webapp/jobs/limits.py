"""Per-user limits checked before a job is queued: active jobs and storage.

`check_can_queue` runs inside the transaction that creates the job, after
`lock_owner`: two submissions of one user are serialised on the user's row, so
they cannot both take the last slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import Length

from webapp.gallery.models import GeneratedImage
from webapp.jobs.models import Job, ModelVersion

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


def storage_used(owner_id: int) -> int:
    """Bytes of the owner's model files and generated images, summed from the rows."""
    models = ModelVersion.objects.filter(owner_id=owner_id).aggregate(
        total=Sum("model_size")
    )["total"]
    images = GeneratedImage.objects.filter(gallery__owner_id=owner_id).aggregate(
        total=Sum(Length("png"))
    )["total"]
    return int(models or 0) + int(images or 0)


def active_jobs(owner_id: int, kind: str) -> int:
    """The owner's queued or running jobs of ``kind``: what the limit counts."""
    return Job.objects.filter(
        owner_id=owner_id,
        kind=kind,
        state__in=(Job.State.QUEUED, Job.State.RUNNING),
    ).count()


def check_storage(owner_id: int) -> None:
    """Raise `StorageQuotaExceeded` if the owner's files fill their quota."""
    used, quota = storage_used(owner_id), storage_quota_bytes()
    if used >= quota:
        raise StorageQuotaExceeded(used_bytes=used, quota_bytes=quota)


def check_can_queue(owner_id: int, kind: str) -> None:
    """Raise a `JobRefused` unless the owner may queue a job of ``kind`` now.

    Call it with the owner's row locked, in the transaction that creates the job.
    """
    active = active_jobs(owner_id, kind)
    limit = active_limit(kind)
    if active >= limit:
        raise TooManyActiveJobs(kind=kind, active=active, limit=limit)
    check_storage(owner_id)
