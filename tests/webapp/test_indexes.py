"""Every index of the project's tables serves a read no other index serves: each
write of a row updates all of them (a job's row is written three times per job,
a gallery's sixteen images at once)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, models
from django.db.models import Q

from webapp.jobs import limits
from webapp.jobs.models import Job, heartbeat_is_stale


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


def test_the_unfinished_job_indexes_hold_exactly_the_unfinished_states() -> None:
    """job_unfinished and job_queued name their states as text (Meta cannot see
    Job.State): they must follow the model's states."""
    indexes = {index.name: index for index in Job._meta.indexes}
    unfinished = {state for state in Job.State if state not in Job.FINISHED_STATES}
    assert indexes["job_unfinished"].condition == Q(
        state__in=sorted(unfinished, key=list(Job.State).index)
    )
    assert indexes["job_queued"].condition == Q(state=Job.State.QUEUED)


def _plan(sql: str, params: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_job_lookups_by_state_read_only_unfinished_jobs(owner: User) -> None:
    """With a long history of finished jobs, the submission's limits, a queued
    job's position, the sweeper and the readiness check read the live jobs'
    indexes, never the whole table."""
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's query plans")
    other = User.objects.create_user("other")
    with connection.cursor() as cursor:
        # (owner, state, how many, seconds before now of the newest)
        for user, state, count, age in (
            (owner, "succeeded", 4000, 100_000),
            (other, "succeeded", 4000, 100_000),
            (other, "queued", 20, 100),
            (owner, "queued", 3, 10),
            (owner, "running", 1, 0),
        ):
            cursor.execute(
                "INSERT INTO jobs_job (id, owner_id, kind, name, state, params,"
                " publish_model, progress, phase, attempts, error, log_tail,"
                " cancel_requested, requeue_requested, celery_task_id, created_at,"
                " heartbeat_at, dispatched_at)"
                " SELECT gen_random_uuid(), %s, 'generation', '', %s, '{}', false, 0,"
                " '', 1, '', '', false, false, '',"
                " now() - (%s + i) * interval '1 s', now(), now()"
                " FROM generate_series(1, %s) i",
                [user.pk, state, age, count],
            )
        cursor.execute("ANALYZE jobs_job")
    queued = Job.objects.filter(owner=owner, state=Job.State.QUEUED).first()
    assert queued is not None
    figures = limits._figures_query()
    position = Job.objects.with_results().filter(pk=queued.pk).values("queue_position")
    stale = Job.objects.filter(heartbeat_is_stale(), state=Job.State.RUNNING)
    oldest = Job.objects.filter(state=Job.State.QUEUED).order_by("created_at")[:1]
    plans = {
        "limits": _plan(
            figures.sql, figures._params({"owner_id": owner.pk, "kind": "generation"})
        ),
        "position": _plan(*position.query.sql_with_params()),
        "sweeper": _plan(*stale.query.sql_with_params()),
        "readiness": _plan(*oldest.query.sql_with_params()),
    }
    live = {"job_unfinished", "job_queued"}
    job_indexes = {index.name for index in Job._meta.indexes} | {
        "jobs_job_pkey",
        "jobs_job_created_at",
    }
    for name, plan in plans.items():
        assert "Seq Scan on jobs_job" not in plan, (name, plan)
        used = {
            index
            for index in re.findall(r"Scan (?:Backward )?(?:using|on) (\w+)", plan)
            if any(index.startswith(known) for known in job_indexes)
        }
        # The position's own job is found by its primary key.
        assert used & live, (name, plan)
        assert used - {"jobs_job_pkey"} <= live, (name, plan)
    # The position reads the range of the queue ahead of the job, not all of it.
    assert re.search(
        r"Index Cond: \(+created_at <= jobs_job\.created_at\)", plans["position"]
    ), plans["position"]
    # The owner's newest queued job: the other's 20 and the owner's 2 are older.
    assert position.get()["queue_position"] == 23


@pytest.mark.django_db
def test_the_indexes_pass_the_database_system_checks() -> None:
    """What ``migrate`` checks against the database: no index feature the backend
    would drop with a warning (SQLite has no INCLUDE columns), on either backend."""
    call_command("check", "--database", "default", "--fail-level", "WARNING")
