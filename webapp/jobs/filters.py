from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from webapp.jobs.models import Job, ModelVersion


class JobFilter(filters.FilterSet):  # type: ignore[misc]
    """``?kind=training&state=queued&state=running&created_after=...``."""

    kind = filters.ChoiceFilter(choices=Job.Kind.choices)
    state = filters.MultipleChoiceFilter(choices=Job.State.choices)
    created_after = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte"
    )
    created_before = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt"
    )

    class Meta:
        model = Job
        fields = ("kind", "state")


class ModelVersionFilter(filters.FilterSet):  # type: ignore[misc]
    """``?dataset=digits&kernel=gaussian&mine=true&created_after=...``."""

    dataset = filters.CharFilter()
    kernel = filters.CharFilter(field_name="settings__kernel")
    is_public = filters.BooleanFilter()
    mine = filters.BooleanFilter(method="filter_mine", label="Only my own")
    created_after = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte"
    )
    created_before = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt"
    )

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
