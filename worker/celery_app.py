"""The Celery application: ``celery -A worker worker -Q <queues>``.

Configuration comes from Django settings, ``CELERY_*`` names (see
webapp/settings.py): JSON only, late acknowledgement, prefetch 1, one queue per
job kind and one for the sweeper (``maintenance``, which every worker consumes
too), the Redis visibility timeout above the longest hard time limit.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("worker", include=["worker.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
