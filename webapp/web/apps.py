from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    """The server-rendered HTML pages; all data goes through the jobs/gallery apps."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webapp.web"
    label = "web"
    verbose_name = "Web pages"
