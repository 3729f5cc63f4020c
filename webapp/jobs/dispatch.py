"""Enqueueing: the only module in webapp that touches the worker package.

Callers pass primary keys only and call these after the transaction that wrote the
job row has committed (``transaction.on_commit``), so a worker never looks for a
row that is not there yet.
"""

from __future__ import annotations

from uuid import UUID


def train(job_id: UUID, *, task_id: str) -> None:
    """Queue a training job on the ``training`` queue."""
    from worker.tasks import train_model_task

    train_model_task.apply_async(args=[str(job_id)], task_id=task_id)


def generate(job_id: UUID, *, task_id: str) -> None:
    """Queue a generation job on the ``generation`` queue."""
    from worker.tasks import generate_images_task

    generate_images_task.apply_async(args=[str(job_id)], task_id=task_id)
