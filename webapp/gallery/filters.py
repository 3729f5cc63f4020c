from __future__ import annotations

from django_filters import rest_framework as filters

from webapp.gallery.models import Gallery
from webapp.jobs.filters import UtcIsoDateTimeFilter


class GalleryFilter(filters.FilterSet):  # type: ignore[misc]
    """``?model_version=3&digit=7&mode=walk&created_after=...``."""

    model_version = filters.NumberFilter(field_name="model_version_id")
    digit = filters.NumberFilter()
    mode = filters.ChoiceFilter(choices=Gallery.Mode.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Gallery
        fields = ("model_version", "digit", "mode")
