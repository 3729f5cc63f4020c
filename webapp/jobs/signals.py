"""Signals other apps listen to, so that jobs code never imports them."""

from __future__ import annotations

from uuid import UUID

from django.dispatch import Signal

#: A job reached an end state (or a run of it stopped): its owner may have a free
#: slot of its kind. Sent with ``job_id`` and ``kind``.
job_ended = Signal()


def announce_job_ended(job_id: str | UUID, *, kind: str) -> None:
    """Tell the listeners; Django logs one that fails, never the job's problem."""
    job_ended.send_robust(sender=None, job_id=job_id, kind=kind)
