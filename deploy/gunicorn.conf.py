"""Gunicorn's settings for the web service (``gunicorn -c deploy/gunicorn.conf.py``):
its own lines, start-up and one per request, go through the studio's LOGGING, so
that LOG_FORMAT=json makes them JSON events like every other line."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

from django.conf import settings

# Gunicorn replaces each top-level key of its own logging defaults with ours; its
# loggers then hand their records to the root logger's handler.
logconfig_dict = {
    **settings.LOGGING,
    "loggers": {
        **settings.LOGGING["loggers"],
        "gunicorn.error": {"level": "INFO", "propagate": True},
        "gunicorn.access": {"level": "INFO", "propagate": True},
    },
}
