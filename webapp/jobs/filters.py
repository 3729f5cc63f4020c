from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from webapp.jobs.models import Job, ModelVersion


class _UtcIsoDateTimeField(IsoDateTimeField):  # type: ignore[misc]
    """An ISO 8601 date-time, moved to UTC.

    Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59 (a 500).
    """

    def to_python(self, value: object) -> dt.datetime | None:
        moment: dt.datetime | None = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            # Within a day of year 1 or 9999: the nearest UTC moment filters alike.
            if moment.year == 1:
                return dt.datetime.min.replace(tzinfo=dt.UTC)
            return dt.datetime.max.replace(tzinfo=dt.UTC)


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):  # type: ignore[misc]
    """An ISO 8601 date-time filter that takes every offset ISO 8601 allows."""

    field_class = _UtcIsoDateTimeField


class JobFilter(filters.FilterSet):  # type: ignore[misc]
    """``?kind=training&state=queued&state=running&created_after=...``."""

    kind = filters.ChoiceFilter(choices=Job.Kind.choices)
    state = filters.MultipleChoiceFilter(choices=Job.State.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Job
        fields = ("kind", "state")


class ModelVersionFilter(filters.FilterSet):  # type: ignore[misc]
    """``?dataset=digits&kernel=gaussian&mine=true&created_after=...``."""

    dataset = filters.CharFilter()
    kernel = filters.CharFilter(field_name="settings__kernel")
    is_public = filters.BooleanFilter()
    mine = filters.BooleanFilter(method="filter_mine", label="Only my own")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ModelVersion
        fields = ("dataset", "is_public")

    def filter_mine(
        self, queryset: QuerySet[ModelVersion], name: str, value: bool | None
    ) -> QuerySet[ModelVersion]:
        if value is None:
            return queryset
        user_id = self.request.user.pk if self.request is not None else None
        if value:
            return queryset.filter(owner_id=user_id)
        return queryset.exclude(owner_id=user_id)
