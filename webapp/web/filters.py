"""The history page's filters, one FilterSet per tab.

A page link never fails: a value that does not validate is ignored, and the kind
and the sort fall back to their defaults, as the filter form itself would send.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, F, FloatField, Q, QuerySet, When
from django.db.models.expressions import OrderBy
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from webapp.filter_backends import natural_key
from webapp.jobs.models import Job, ModelVersion

#: Ways to sort, by tab: key -> (label, field; "-" for descending).
Sorts = dict[str, tuple[str, str]]
_COMMON_SORTS: Sorts = {
    "newest": ("Newest first", "-created_at"),
    "oldest": ("Oldest first", "created_at"),
}
RUN_SORTS: Sorts = {
    **_COMMON_SORTS,
    "name": ("Name", "name"),
    "state": ("State", "state"),
}
MODEL_SORTS: Sorts = {
    **_COMMON_SORTS,
    "name": ("Name", "name"),
    "likelihood": ("Best test log-likelihood", "-metrics__test_log_likelihood"),
}
GALLERY_SORTS: Sorts = {
    **_COMMON_SORTS,
    "size": ("Most images", "-n_images"),
}
JOB_KINDS = {"training": "Training runs", "generation": "Generations", "all": "All"}


class _IsoDateField(forms.DateField):
    """A date in ISO 8601, what a date input sends."""

    def to_python(self, value: Any) -> dt.date | None:
        if value in self.empty_values:
            return None
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid"
            ) from None


class _IsoDateFilter(django_filters.DateFilter):  # type: ignore[misc]
    field_class = _IsoDateField


class _FallbackChoiceField(forms.ChoiceField):
    """A choice where a missing or unknown value means the default."""

    def __init__(self, *, default: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default = default

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return text if self.valid_value(text) else self.default


class _FallbackChoiceFilter(django_filters.ChoiceFilter):  # type: ignore[misc]
    field_class = _FallbackChoiceField


class _SortFilter(_FallbackChoiceFilter):
    """``?sort=<key>``: an ordering with missing values last, newest by default."""

    def __init__(self, sorts: Sorts) -> None:
        super().__init__(
            choices=[(key, label) for key, (label, _) in sorts.items()],
            default="newest",
        )
        self.sorts = sorts

    def filter(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        return queryset.order_by(_ordering(self.sorts[value][1]), "-pk")


def _ordering(field: str) -> OrderBy:
    """``"-name"`` as an ordering with missing values last on every database."""
    descending = field.startswith("-")
    name = field.lstrip("-")
    expression: Any = F(name)
    if "__" in name:
        # A number inside a JSON field, compared as a float rather than as JSON
        # or text. JSON null (the generator's -inf) must become SQL NULL: SQLite
        # would otherwise cast the text "null" to 0.
        column, key = name.split("__", 1)
        expression = Case(
            When(Q(**{name: None}) | Q(**{f"{name}__isnull": True}), then=None),
            default=Cast(KeyTextTransform(key, column), FloatField()),
            output_field=FloatField(),
        )
    if descending:
        return expression.desc(nulls_last=True)  # type: ignore[no-any-return]
    return expression.asc(nulls_last=True)  # type: ignore[no-any-return]


class _PageFilter(django_filters.FilterSet):  # type: ignore[misc]
    """A page's filters, whose form shows the values it applied."""

    def applied(self) -> dict[str, Any]:
        """The value of each filter that validated, as applied."""
        self.form.is_valid()
        return dict(self.form.cleaned_data)


class HistoryFilter(_PageFilter):
    """Filters every tab has: data set, kernel and whole days in the site's zone."""

    # CharField refuses a NUL (PostgreSQL text cannot hold one): the filter is off.
    dataset = django_filters.CharFilter()
    kernel = django_filters.CharFilter()
    since = _IsoDateFilter(field_name="created_at", lookup_expr="date__gte")
    until = _IsoDateFilter(field_name="created_at", lookup_expr="date__lte")

    def rows(self) -> QuerySet[Any] | list[Any]:
        """The filtered rows in the chosen order; names sort naturally (see
        `natural_key`), which no database ordering does."""
        rows: QuerySet[Any] = self.qs
        if self.applied()["sort"] == "name":
            return sorted(rows, key=lambda row: natural_key(row.name))
        return rows

    def is_filtered(self) -> bool:
        """Whether a filter narrows the list (sorting does not)."""
        return any(
            value not in (None, "", self.filters[name].extra.get("default"))
            for name, value in self.applied().items()
            if name != "sort"
        )

    def unfiltered_count(self) -> int:
        """How many rows the tab holds before filtering."""
        return int(self.queryset.count())

    def sort_labels(self) -> dict[str, str]:
        sort = self.filters["sort"]
        assert isinstance(sort, _SortFilter)
        return {key: label for key, (label, _) in sort.sorts.items()}


class JobHistoryFilter(HistoryFilter):
    """Training runs (or generations, or both) by state, settings and date."""

    kind = _FallbackChoiceFilter(
        choices=list(JOB_KINDS.items()), default="training", method="filter_kind"
    )
    state = django_filters.ChoiceFilter(choices=Job.State.choices)
    dataset = django_filters.CharFilter(method="filter_setting")
    kernel = django_filters.CharFilter(method="filter_setting")
    sort = _SortFilter(RUN_SORTS)

    def filter_kind(self, queryset: QuerySet[Job], name: str, value: str) -> Any:
        return queryset if value == "all" else queryset.filter(kind=value)

    def filter_setting(self, queryset: QuerySet[Job], name: str, value: str) -> Any:
        """Trained with this setting, or generating from a model trained with it."""
        model_field = {"dataset": "dataset", "kernel": "settings__kernel"}[name]
        model_ids = list(
            ModelVersion.objects.visible_to(self.request.user)
            .filter(**{model_field: value})
            .values_list("pk", flat=True)
        )
        return queryset.filter(
            Q(kind=Job.Kind.TRAINING, **{f"params__{name}": value})
            | Q(kind=Job.Kind.GENERATION, params__model_version__in=model_ids)
        )

    def unfiltered_count(self) -> int:
        """How many jobs of the chosen kind there are: a kind is a tab of its own."""
        kind = self.applied()["kind"]
        return int(self.filter_kind(self.queryset, "kind", kind).count())


class ModelVersionHistoryFilter(HistoryFilter):
    kernel = django_filters.CharFilter(field_name="settings__kernel")
    sort = _SortFilter(MODEL_SORTS)


class GalleryHistoryFilter(HistoryFilter):
    dataset = django_filters.CharFilter(field_name="model_version__dataset")
    kernel = django_filters.CharFilter(field_name="model_version__settings__kernel")
    sort = _SortFilter(GALLERY_SORTS)


class ComparePickerFilter(_PageFilter):
    """The compare page's picker: ``?name=batch&dataset=digits&kernel=cosine``."""

    name = django_filters.CharFilter(lookup_expr="icontains")
    dataset = django_filters.CharFilter()
    kernel = django_filters.CharFilter(field_name="settings__kernel")
