"""WSGI entry point: ``gunicorn webapp.wsgi``.

Each web process loads Django and, before its first request, the URLconf with
every view; then it moves all those long-lived objects out of the garbage
collector's sight (`gc.freeze`). Otherwise a full collection, every few tens of
thousands of requests, walked them all: a 40 ms pause in a status poll on this
machine, now about 5 ms. With the worker's (worker/celery_app.py), a generation
job's p99 went from 24-26 to 19-21 ms (BENCHMARKS.md).
"""

from __future__ import annotations

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)
gc.freeze()
