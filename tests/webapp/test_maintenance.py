"""webapp/jobs/maintenance.py: sweeping, re-dispatching, seeding the demo model."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Now
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from tests.webapp.job_rows import stale_time, training_job
from webapp.gallery.models import Gallery
from webapp.jobs import dispatch, maintenance, runner, services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


# --- Sweeping -------------------------------------------------------------------------


def test_sweep_requeues_fails_and_cancels_stale_jobs(
    owner: User,
    settings: SettingsWrapper,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    fresh = training_job(
        owner, state=Job.State.RUNNING, attempts=1, heartbeat_at=timezone.now()
    )
    retry = training_job(
        owner, state=Job.State.RUNNING, attempts=1, heartbeat_at=stale_time()
    )
    exhausted = training_job(
        owner,
        state=Job.State.RUNNING,
        attempts=settings.JOB_MAX_ATTEMPTS,
        heartbeat_at=stale_time(),
    )
    abandoned = training_job(
        owner,
        state=Job.State.RUNNING,
        attempts=1,
        heartbeat_at=stale_time(),
        cancel_requested=True,
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = maintenance.sweep_stale_jobs()

    assert result == maintenance.SweepResult(requeued=1, failed=1, cancelled=1)
    for job in (fresh, retry, exhausted, abandoned):
        job.refresh_from_db()
    assert fresh.state == Job.State.RUNNING
    assert (retry.state, retry.attempts) == (Job.State.QUEUED, 1)
    assert dispatched.calls == [("training", retry.pk, retry.celery_task_id)]
    assert exhausted.state == Job.State.FAILED
    assert "stopped responding" in exhausted.error
    assert abandoned.state == Job.State.CANCELLED

    # The requeued job then runs normally.
    assert runner.run_training_job(retry.pk) is runner.RunOutcome.RAN
    retry.refresh_from_db()
    assert (retry.state, retry.attempts) == (Job.State.SUCCEEDED, 2)


def test_redispatch_queued_jobs_sends_each_queued_job_again(
    owner: User, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    queued = training_job(owner)
    training_job(owner, state=Job.State.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.redispatch_queued_jobs() == 1
    assert dispatched.job_ids == [queued.pk]


def overdue_job(owner: User) -> Job:
    """A queued job last sent to the broker an hour ago (by the database's clock)."""
    job = training_job(owner, celery_task_id=str(uuid.uuid4()))
    Job.objects.filter(pk=job.pk).update(dispatched_at=Now() - timedelta(hours=1))
    return job


def test_lost_queued_jobs_are_sent_again_with_their_task_id(
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    waiting, lost = overdue_job(owner), overdue_job(owner)
    just_sent = training_job(owner, celery_task_id=str(uuid.uuid4()))
    running = overdue_job(owner)
    Job.objects.filter(pk=running.pk).update(state=Job.State.RUNNING)
    # Only the waiting job's message is still in the broker.
    monkeypatch.setattr(
        dispatch,
        "waiting_task_ids",
        lambda delivered_within: {waiting.celery_task_id, just_sent.celery_task_id},
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.sweep_jobs().redispatched == 1
    assert dispatched.calls == [("training", lost.pk, lost.celery_task_id)]
    lost.refresh_from_db()
    assert lost.state == Job.State.QUEUED

    # Sent once per grace period at most, even when the broker cannot tell.
    def broker_down(delivered_within: float) -> set[str]:
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "waiting_task_ids", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.redispatch_lost_jobs() == 1
    assert dispatched.job_ids == [lost.pk, waiting.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.redispatch_lost_jobs() == 0
    assert len(dispatched.calls) == 2


def test_lost_gallery_evaluations_are_sent_again(
    owner: User,
    make_model_version: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = make_model_version(owner)
    State = Gallery.EvaluationState
    lost, in_broker, _done, recent = (
        Gallery.objects.create(
            owner=owner,
            model_version=version,
            n_images=1,
            seed=1,
            evaluation_state=state,
        )
        for state in (State.PENDING, State.PENDING, State.DONE, State.PENDING)
    )
    Gallery.objects.exclude(pk=recent.pk).update(created_at=Now() - timedelta(hours=1))
    monkeypatch.setattr(
        dispatch,
        "waiting_task_ids",
        lambda delivered_within: {dispatch.evaluation_task_id(in_broker.pk)},
    )
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        dispatch,
        "evaluate_gallery",
        lambda gallery_id, *, task_id: sent.append((gallery_id, task_id)),
    )

    assert maintenance.sweep_jobs().evaluations == 1
    assert sent == [(lost.pk, f"gallery-{lost.pk}-evaluate")]

    # A broker that cannot be inspected could not take the message either.
    def broker_down(delivered_within: float) -> set[str]:
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "waiting_task_ids", broker_down)
    assert maintenance.redispatch_lost_evaluations() == 0
    assert len(sent) == 1


# --- Demo seeding ---------------------------------------------------------------------


def test_seed_demo_queues_one_public_training(
    dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = maintenance.seed_demo_model(preset="preview")
    assert job is not None
    demo = User.objects.get(username=maintenance.DEMO_USERNAME)
    assert not demo.has_usable_password()
    assert (job.owner, job.publish_model, job.state) == (demo, True, Job.State.QUEUED)
    assert job.params == services.validate_training_settings({}, preset="preview")
    assert dispatched.job_ids == [job.pk]

    with django_capture_on_commit_callbacks(execute=True):
        again = maintenance.seed_demo_model(preset="preview")
    assert again == job
    assert Job.objects.count() == 1
    # The queued demo job is sent again in case the broker lost it.
    assert dispatched.job_ids == [job.pk, job.pk]


def test_seed_demo_does_nothing_once_a_public_model_exists(
    owner: User, make_model_version: Any, dispatched: Any
) -> None:
    make_model_version(owner, is_public=True)
    assert maintenance.seed_demo_model() is None
    assert not Job.objects.exists()
    assert dispatched.calls == []
