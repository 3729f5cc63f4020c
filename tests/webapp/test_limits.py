"""webapp/jobs/limits.py: active jobs and storage per user, through the API."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.db.transaction import TransactionManagementError
from psycopg.sql import Literal
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.integration.integration_support import wait_for
from tests.webapp.job_rows import generation_job, stored_gallery, training_job
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import limits, services
from webapp.jobs.models import Job, ModelVersion, lock_owner
from webapp.querysets import Placeholder

pytestmark = pytest.mark.django_db

TRAINING = "/api/v1/training-runs"
GENERATIONS = "/api/v1/generations"
PREVIEW = {"preset": "preview"}


def test_training_jobs_beyond_the_limit_get_429_with_the_reason(
    api_client: APIClient,
    owner: User,
    other_client: APIClient,
    settings: SettingsWrapper,
    dispatched: Any,
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 2
    training_job(owner, state=Job.State.RUNNING)
    training_job(owner, state=Job.State.SUCCEEDED)  # finished jobs do not count
    assert api_client.post(TRAINING, PREVIEW).status_code == 202
    response = api_client.post(TRAINING, PREVIEW)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json() == {
        "detail": "You already have 2 training jobs queued or running, the most "
        "allowed at once (2). Wait for one to finish or cancel one, then try again.",
        "active": 2,
        "limit": 2,
    }
    assert Job.objects.filter(owner=owner).count() == 3
    # Someone else's slots are their own.
    assert other_client.post(TRAINING, PREVIEW).status_code == 202


def test_cancelling_a_job_frees_its_slot(
    api_client: APIClient, owner: User, settings: SettingsWrapper, dispatched: Any
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    job_id = api_client.post(TRAINING, PREVIEW).json()["id"]
    assert api_client.post(TRAINING, PREVIEW).status_code == 429
    assert api_client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    assert api_client.post(TRAINING, PREVIEW).status_code == 202


def test_generation_jobs_have_their_own_limit(
    api_client: APIClient,
    owner: User,
    make_model_version: Any,
    settings: SettingsWrapper,
    dispatched: Any,
) -> None:
    settings.MAX_ACTIVE_GENERATION_JOBS = 2
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    model_version = make_model_version(owner)
    generation_job(owner, model_version)
    body = {"model_version": model_version.pk, "n_images": 2}
    assert api_client.post(GENERATIONS, body).status_code == 202
    response = api_client.post(GENERATIONS, body)
    assert (response.status_code, response["Retry-After"]) == (429, "10")
    assert "2 generation jobs" in response.json()["detail"]
    # Generations do not use up training slots.
    assert api_client.post(TRAINING, PREVIEW).status_code == 202


def test_a_full_storage_quota_is_a_409_with_the_figures(
    api_client: APIClient,
    owner: User,
    make_model_version: Any,
    settings: SettingsWrapper,
    dispatched: Any,
) -> None:
    settings.STORAGE_QUOTA_MB = 1
    model_version = make_model_version(owner, model_size=700 * 1024)
    assert api_client.post(TRAINING, PREVIEW).status_code == 202
    big = make_model_version(owner, model_size=400 * 1024)
    used = 1100 * 1024
    assert limits.storage_used(owner.pk) == used
    for url, body in (
        (TRAINING, PREVIEW),
        (GENERATIONS, {"model_version": model_version.pk}),
    ):
        response = api_client.post(url, body)
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Your storage is full: you use 1.1 MB of your 1 MB quota. "
            "Delete model versions or galleries to free space, then try again.",
            "used_bytes": used,
            "quota_bytes": 1024 * 1024,
        }
        assert "Retry-After" not in response
    # Usage is summed from the rows: deleting one frees its bytes.
    ModelVersion.objects.filter(pk=big.pk).delete()
    assert api_client.post(TRAINING, PREVIEW).status_code == 202


def test_storage_counts_the_bytes_of_generated_images(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    def gallery(user: User, pngs: list[bytes]) -> Gallery:
        return stored_gallery(user, make_model_version(user, model_size=1000), pngs)

    first = gallery(owner, [b"x" * 300, b"y" * 500])
    gallery(owner, [b"w" * 40])
    gallery(other_user, [b"z" * 7000])
    assert limits.storage_used(owner.pk) == 2000 + 840
    # Deleting a gallery frees its images' bytes.
    first.delete()
    assert limits.storage_used(owner.pk) == 2000 + 40


def test_the_migration_sums_the_images_of_existing_galleries(owner: User) -> None:
    from django.apps import apps

    migration = importlib.import_module(
        "webapp.gallery.migrations.0005_gallery_images_size"
    )
    made = [
        Gallery.objects.create(owner=owner, n_images=2, seed=1),
        Gallery.objects.create(owner=owner, n_images=0, seed=1),
    ]
    GeneratedImage.objects.bulk_create(
        GeneratedImage(gallery=made[0], index=index, seed=1, png=png)
        for index, png in enumerate((b"a" * 30, b"b" * 12))
    )
    migration.sum_image_sizes(apps, None)
    assert [Gallery.objects.get(pk=g.pk).images_size for g in made] == [42, 0]
    assert limits.storage_used(owner.pk) == 42


def test_two_concurrent_submissions_cannot_both_take_the_last_slot(
    transactional_db: None,
    owner: User,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
) -> None:
    """The first submission holds the owner's row while it checks and inserts; the
    second must wait for that row and then see the first one's job."""
    if connection.vendor != "postgresql":
        pytest.skip("watches PostgreSQL's lock table")
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    first_checked, release = threading.Event(), threading.Event()
    real_check = limits.check_can_queue

    def check_then_hold(owner_id: int, kind: str) -> int:
        queued = real_check(owner_id, kind)
        if threading.current_thread().name == "first":
            first_checked.set()
            assert release.wait(timeout=30)
        return queued

    monkeypatch.setattr(limits, "check_can_queue", check_then_hold)
    outcomes: dict[str, str] = {}

    def submit() -> None:
        try:
            services.create_training_job(
                owner,
                training_settings=services.validate_training_settings(
                    {}, preset="preview"
                ),
                name="race",
            )
            outcomes[threading.current_thread().name] = "queued"
        except limits.TooManyActiveJobs:
            outcomes[threading.current_thread().name] = "refused"
        finally:
            connections.close_all()

    first = threading.Thread(target=submit, name="first")
    second = threading.Thread(target=submit, name="second")
    first.start()
    assert first_checked.wait(timeout=30)
    second.start()

    def second_waits_or_finished() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            (waiting,) = cursor.fetchone()
        return waiting > 0 or not second.is_alive()

    wait_for(second_waits_or_finished, timeout=30, what="the second submission")
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert outcomes == {"first": "queued", "second": "refused"}
    assert Job.objects.filter(owner=owner).count() == 1


def test_the_owner_lock_needs_a_transaction(
    transactional_db: None, owner: User
) -> None:
    with pytest.raises(TransactionManagementError):
        lock_owner(owner.pk)
    with transaction.atomic():
        lock_owner(owner.pk)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL prepares statements"
)
def test_a_submissions_figures_plan_made_once_reads_only_the_live_jobs(
    owner: User,
) -> None:
    """The plan PostgreSQL keeps after five runs, made without the owner and the
    kind, counts the owner's live jobs and the queue from the partial indexes of
    live jobs (job_unfinished, job_queued), never the owner's history or the
    table."""
    figures = limits._figures_query()
    for _ in range(6):
        assert figures.first(owner_id=owner.pk, kind=Job.Kind.GENERATION) == {
            "active": 0,
            "used": 0,
            "queued": 0,
        }
    values = {"owner_id": owner.pk, "kind": Job.Kind.GENERATION}
    arguments = ", ".join(
        Literal(
            values[param.name] if isinstance(param, Placeholder) else param
        ).as_string(None)
        for param in figures.params
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE %s",
            ['SELECT COALESCE((SELECT COUNT(U0."state")%'],
        )
        [(name,)] = cursor.fetchall()
        # Tables this small are read whole when allowed: only an index the plan
        # cannot use would still be passed over.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"EXPLAIN EXECUTE {name}({arguments})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    job_scans = [line for line in plan.splitlines() if " on jobs_job " in line]
    assert len(job_scans) == 2, plan  # the owner's live jobs, and the queue
    assert all(
        "using job_unfinished" in line or "using job_queued" in line
        for line in job_scans
    ), plan
