"""Celery task names: webapp sends by these and worker/tasks.py registers them."""

from __future__ import annotations

TRAIN = "jobs.train"
GENERATE = "jobs.generate"
SWEEP = "jobs.sweep"
