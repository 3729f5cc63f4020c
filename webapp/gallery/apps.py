from __future__ import annotations

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "webapp.gallery"
    label = "gallery"
