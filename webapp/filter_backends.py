"""Filter backends of the project's own."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

_DIGIT_RUNS = re.compile(r"([0-9]+)")
#: Fields that sort as people read them, on the pages and in the API.
NATURAL_FIELDS = ("name",)


def natural_key(text: str) -> list[str | int]:
    """Sort key putting "batch 7" before "batch 13": digit runs compare as numbers,
    the rest without regard to case.

    ``re.split`` with a group alternates text and digits, so two keys always
    compare text with text and numbers with numbers.
    """
    return [
        int(part) if index % 2 else part.casefold()
        for index, part in enumerate(_DIGIT_RUNS.split(text))
    ]


class ListFilterBackend(DjangoFilterBackend):  # type: ignore[misc]
    """django-filter's backend, for lists only.

    DRF also filters the queryset a detail view looks its object up in; building
    and validating the filter form there cost a seventh of a status poll, for
    nothing: an object is found by its id.
    """

    def filter_queryset(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> QuerySet[Any]:
        if getattr(view, "detail", False):
            return queryset
        filtered: QuerySet[Any] = super().filter_queryset(request, queryset, view)
        return filtered


def _sort_key(field: str) -> Callable[[Any], Any]:
    if field in NATURAL_FIELDS:
        return lambda row: natural_key(getattr(row, field))
    return operator.attrgetter(field)


class NaturalOrderingFilter(OrderingFilter):
    """DRF's ``?ordering=``, with names (`NATURAL_FIELDS`) in natural order, as
    the pages sort them: "run 2" before "run 10", which no database ordering does.

    Such a list is sorted in Python, so it becomes a list (pagination takes one);
    a detail view keeps its queryset to look its object up in.
    """

    def filter_queryset(  # type: ignore[override]
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> QuerySet[Any] | list[Any]:
        ordered: QuerySet[Any] = super().filter_queryset(request, queryset, view)
        terms: Sequence[str] = self.get_ordering(request, queryset, view) or ()
        natural = [
            index
            for index, term in enumerate(terms)
            if term.lstrip("-") in NATURAL_FIELDS
        ]
        if getattr(view, "detail", False) or not natural:
            return ordered
        rows = list(ordered)
        # The database ordered by every term; stable sorts from the last natural
        # term back to the first redo those, keeping its order among ties.
        for term in reversed(terms[: natural[-1] + 1]):
            rows.sort(key=_sort_key(term.lstrip("-")), reverse=term.startswith("-"))
        return rows
