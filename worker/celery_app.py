"""The Celery application: ``celery -A worker worker -Q <queues>``.

Configuration comes from Django settings, ``CELERY_*`` names (see
webapp/settings.py): JSON only, late acknowledgement, prefetch 1, one queue per
job kind and one for the sweeper (``maintenance``, which every worker consumes
too), the Redis visibility timeout above the longest hard limit. Logging is the
settings' LOGGING too (LOG_FORMAT=json|text), with each task's id on its lines.
"""

from __future__ import annotations

import gc
import logging.config
import os
from typing import Any

from celery import Celery, signals
from django import db
from django.conf import settings

from webapp import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("worker", include=["worker.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _prepare_evaluation(sender: Any, **kwargs: Any) -> None:
    """Queue the classifier fit of a fresh install, before any gallery needs it."""
    from webapp.jobs import task_names

    if settings.GALLERY_EVALUATION and settings.EVALUATION_PREPARE_DATASETS:
        app.send_task(task_names.PREPARE_EVALUATION)


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def freeze_loaded_objects(**kwargs: Any) -> None:
    """Once the worker (or a pool process) has loaded Django and the tasks, keep
    those long-lived objects out of the garbage collector's full collections,
    which walked them all: a pause of tens of milliseconds in a job's run."""
    gc.freeze()


@signals.setup_logging.connect  # type: ignore[untyped-decorator]
def configure_logging(**kwargs: Any) -> None:
    """The settings' LOGGING rather than Celery's own format (Celery skips its own
    set-up when this signal has a receiver)."""
    logging.config.dictConfig(settings.LOGGING)
    # Warnings too, as events of the chosen format.
    logging.captureWarnings(True)


@signals.task_prerun.connect  # type: ignore[untyped-decorator]
@signals.task_postrun.connect  # type: ignore[untyped-decorator]
def close_old_connections(sender: Any, **kwargs: Any) -> None:
    """Around each task what Django does around each request: drop a database
    connection past CONN_MAX_AGE or broken, and health-check the kept one at
    its next use (CELERY_DB_REUSE_MAX keeps Celery from closing it every time).
    An eager task (``apply()``) runs on its caller's connection and leaves it be,
    as Celery's fixup does."""
    if not sender.request.is_eager:
        db.close_old_connections()


@signals.task_prerun.connect  # type: ignore[untyped-decorator]
def bind_task_id(task_id: str, **kwargs: Any) -> None:
    logs.bind(task_id=task_id)


@signals.task_postrun.connect  # type: ignore[untyped-decorator]
def unbind_task_id(**kwargs: Any) -> None:
    logs.bind()
