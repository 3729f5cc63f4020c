"""Every index of the project's tables serves a read no other index serves: each
write of a row updates all of them (a job's row is written three times per job,
a gallery's sixteen images at once)."""

from __future__ import annotations

from django.apps import apps
from django.db import models


def _columns(model: type[models.Model], names: list[str] | tuple[str, ...]) -> tuple:
    return tuple(model._meta.get_field(name.lstrip("-")).column for name in names)


def _indexes(model: type[models.Model]) -> tuple[list[tuple], list[tuple]]:
    """The model's plain (non-unique, unconditional) indexes, and every index its
    table has that a plain one could duplicate (unique ones included), as column
    tuples."""
    plain, every = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.unique:
            every.append((field.column,))
        elif field.db_index:
            plain.append((field.column,))
    for index in model._meta.indexes:
        if index.condition is None and index.fields:
            plain.append(_columns(model, index.fields))
    for constraint in model._meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.condition is None
            and constraint.fields
        ):
            every.append(_columns(model, constraint.fields))
    return plain, every + plain


def _project_models() -> list[type[models.Model]]:
    return [
        model
        for config in apps.get_app_configs()
        if config.name.startswith("webapp.")
        for model in config.get_models()
    ]


def test_the_project_has_models_to_check() -> None:
    tables = {model._meta.db_table for model in _project_models()}
    assert {"jobs_job", "gallery_generatedimage", "sweeps_sweeprun"} <= tables


def test_no_index_leads_another() -> None:
    """A plain index whose columns begin another index is redundant: the longer one
    answers its lookups (a foreign key's own index, beside a composite index that
    starts with the key, is the usual case: such keys say db_index=False)."""
    redundant = []
    for model in _project_models():
        plain, every = _indexes(model)
        for columns in plain:
            covering = [
                other
                for other in every
                if other is not columns and other[: len(columns)] == columns
            ]
            if covering:
                redundant.append((model._meta.db_table, columns, covering))
    assert redundant == []


def test_no_text_column_has_a_pattern_index() -> None:
    """On PostgreSQL, db_index=True on a text column adds a second index for LIKE
    (varchar_pattern_ops); no query matches a pattern, so such columns are indexed
    through Meta.indexes instead."""
    patterned = [
        (model._meta.db_table, field.column)
        for model in _project_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField)
        and field.db_index
        and not field.unique
        and not field.primary_key
    ]
    assert patterned == []
