"""The Celery application: ``celery -A worker worker -Q training,generation``.

Configuration comes from Django settings, ``CELERY_*`` names (see
webapp/settings.py): JSON only, late acknowledgement, prefetch 1, one queue per
job kind, the Redis visibility timeout above the longest hard time limit.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("worker", include=["worker.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")


@worker_ready.connect  # type: ignore[untyped-decorator]
def _prepare_evaluation(sender: Any, **kwargs: Any) -> None:
    """Queue the classifier fit of a fresh install, before any gallery needs it."""
    from django.conf import settings

    from webapp.jobs import task_names

    if settings.GALLERY_EVALUATION and settings.EVALUATION_PREPARE_DATASETS:
        app.send_task(task_names.PREPARE_EVALUATION)
