"""webapp/jobs/services.py: creating and cancelling jobs, their queue position."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Now

from tests.webapp.job_rows import generation_job, training_job
from webapp.jobs import runner, services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


# --- Creating jobs --------------------------------------------------------------------


def test_create_training_job_dispatches_once_after_commit(
    owner: User, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = services.create_training_job(
            owner, training_settings={"dataset": "digits"}, name="run"
        )
        assert dispatched.calls == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert dispatched.calls == [("training", job.pk, job.celery_task_id)]
    job.refresh_from_db()
    assert (job.state, job.attempts, job.kind) == (Job.State.QUEUED, 0, "training")


def test_create_generation_job_records_a_seed_when_none_is_given(
    owner: User,
    make_model_version: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    model_version = make_model_version(owner)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.create_generation_job(
            owner, model_version=model_version, n_images=5
        )
    assert dispatched.calls == [("generation", job.pk, job.celery_task_id)]
    assert job.params["model_version"] == model_version.pk
    assert isinstance(job.params["seed"], int)
    assert 0 <= job.params["seed"] <= services.MAX_SEED


def test_unreachable_broker_leaves_the_job_queued_for_the_sweeper(
    owner: User,
    dispatched: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from webapp.jobs import dispatch, maintenance

    real_train = dispatch.train

    def refuse(job_id: Any, *, task_id: str) -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(dispatch, "train", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.create_training_job(owner, training_settings={}, name="run")
    job.refresh_from_db()
    # What the submission answered (queued) is the truth: the job will run.
    assert (job.state, job.error, job.finished_at) == (Job.State.QUEUED, "", None)

    # The broker is back: past the grace period, the sweeper sends it.
    monkeypatch.setattr(dispatch, "train", real_train)
    monkeypatch.setattr(dispatch, "waiting_task_ids", lambda delivered_within: set())
    Job.objects.filter(pk=job.pk).update(dispatched_at=Now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.redispatch_lost_jobs() == 1
    assert dispatched.calls == [("training", job.pk, job.celery_task_id)]


# --- Cancelling and queue position ----------------------------------------------------


def test_cancelling_a_queued_job_is_immediate_and_it_never_starts(
    owner: User,
) -> None:
    job = services.cancel_job(training_job(owner))
    assert (job.state, job.cancel_requested) == (Job.State.CANCELLED, True)
    assert job.finished_at is not None

    assert runner.run_training_job(job.pk) is runner.RunOutcome.SKIPPED
    job.refresh_from_db()
    assert (job.state, job.attempts, job.started_at) == (Job.State.CANCELLED, 0, None)


def test_cancelling_a_running_job_only_requests_it(owner: User) -> None:
    job = training_job(owner, state=Job.State.RUNNING, attempts=1)
    job = services.cancel_job(job)
    assert (job.state, job.cancel_requested) == (Job.State.RUNNING, True)


@pytest.mark.parametrize(
    "state", [Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED]
)
def test_cancelling_a_finished_job_conflicts(owner: User, state: str) -> None:
    job = training_job(owner, state=state)
    with pytest.raises(services.JobConflict):
        services.cancel_job(job)
    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (state, False)


def test_queue_position_counts_earlier_queued_jobs_of_the_same_kind(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    first = training_job(owner)
    training_job(other_user, state=Job.State.RUNNING)
    generation_job(owner, make_model_version(owner))
    second = training_job(other_user)
    third = training_job(owner)
    assert [services.queue_position(job) for job in (first, second, third)] == [
        1,
        2,
        3,
    ]
    first.state = Job.State.RUNNING
    first.save()
    assert services.queue_position(first) is None
    assert services.queue_position(third) == 2


def test_queue_position_reveals_nothing_behind_or_beside_the_job(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    mine = training_job(owner)
    ahead_before = services.queue_position(mine)
    # Whatever others queue after it, in the other queue, or run: it stays put.
    for _ in range(3):
        training_job(other_user)
        generation_job(other_user, make_model_version(other_user))
    training_job(other_user, state=Job.State.RUNNING)
    assert services.queue_position(mine) == ahead_before == 1


def test_jobs_created_at_the_same_instant_get_distinct_positions(
    owner: User, other_user: User
) -> None:
    first, second = training_job(owner), training_job(other_user)
    Job.objects.filter(pk=second.pk).update(created_at=first.created_at)
    second.refresh_from_db()
    assert {services.queue_position(first), services.queue_position(second)} == {
        1,
        2,
    }
