from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from webapp.jobs import maintenance, services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Any:
    """Call a command; its on-commit dispatches fire as they would outside tests."""

    def call(*args: str) -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(*args, stdout=out)
        return out.getvalue()

    return call


def test_seed_demo_queues_the_sharp_preset_once(run: Any, dispatched: Any) -> None:
    assert "Demo model training queued" in run("seed_demo")
    job = Job.objects.get()
    assert job.owner.username == maintenance.DEMO_USERNAME
    assert job.publish_model
    assert job.params == services.validate_training_settings({}, preset="sharp")
    assert dispatched.job_ids == [job.pk]

    assert "queued" in run("seed_demo")
    assert Job.objects.count() == 1


def test_seed_demo_queues_again_after_a_failed_attempt(
    run: Any, dispatched: Any
) -> None:
    run("seed_demo", "--preset", "preview")
    Job.objects.update(state=Job.State.FAILED)
    run("seed_demo", "--preset", "preview")
    assert Job.objects.filter(state=Job.State.QUEUED).count() == 1
    assert Job.objects.count() == 2


def test_seed_demo_is_quiet_once_a_public_model_exists(
    run: Any, owner: User, make_model_version: Any, dispatched: Any
) -> None:
    make_model_version(owner, is_public=True)
    assert "already exists" in run("seed_demo")
    assert not Job.objects.exists()
    assert User.objects.filter(username=maintenance.DEMO_USERNAME).exists()


def test_sweep_jobs_reports_what_it_did(
    run: Any, owner: User, settings: Any, dispatched: Any
) -> None:
    stale = timezone.now() - timedelta(hours=2)
    Job.objects.create(
        owner=owner,
        kind=Job.Kind.TRAINING,
        state=Job.State.RUNNING,
        attempts=settings.JOB_MAX_ATTEMPTS,
        heartbeat_at=stale,
    )
    queued = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING)
    output = run("sweep_jobs", "--redispatch-queued")
    assert "0 requeued, 1 failed, 0 cancelled" in output
    assert "Lost queued jobs sent again: 0" in output
    assert "sent to the broker again: 1" in output
    assert dispatched.job_ids == [queued.pk]
