"""Celery worker package; ``celery -A worker`` finds ``app`` here."""

from __future__ import annotations

from worker.celery_app import app

__all__ = ["app"]
