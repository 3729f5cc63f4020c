"""Celery task names: webapp sends by these and worker/tasks.py registers them."""

from __future__ import annotations

TRAIN = "jobs.train"
GENERATE = "jobs.generate"
SWEEP = "jobs.sweep"
EVALUATE_GALLERY = "gallery.evaluate"
PREPARE_EVALUATION = "gallery.prepare_evaluation"
# Parameter sweeps (webapp.sweeps), not the stale-job sweeper above.
FEED_PARAMETER_SWEEPS = "sweeps.feed"
