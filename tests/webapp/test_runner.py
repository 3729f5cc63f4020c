"""webapp/jobs/runner.py: claiming, running and finishing jobs of both kinds."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models.functions import Now
from django.utils import timezone
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from generator.datasets import DatasetUnavailable
from generator.io import load_model
from tests.webapp.job_rows import generation_job, stale_time, training_job
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import runner, services, serving
from webapp.jobs.models import Job, ModelVersion

pytestmark = pytest.mark.django_db


# --- Running training jobs ------------------------------------------------------------


def test_training_creates_one_default_model_version(owner: User) -> None:
    job = training_job(owner)

    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN

    job.refresh_from_db()
    assert (job.state, job.progress, job.phase, job.attempts) == (
        Job.State.SUCCEEDED,
        1.0,
        "done",
        1,
    )
    assert job.started_at is not None
    assert job.finished_at is not None
    model_version = ModelVersion.objects.get(training_job=job)
    assert (model_version.owner, model_version.version) == (owner, 1)
    assert model_version.is_default
    assert not model_version.is_public
    assert model_version.dataset == "digits"
    assert model_version.settings == job.params
    assert model_version.metrics["n_components"] == 8
    assert len(model_version.metrics["explained_variance_curve"]) == 8
    assert model_version.metrics["cv"]["bandwidths"]
    assert len(model_version.dataset_digest) == 64
    content = serving.model_file_bytes(model_version)
    assert len(content) == model_version.model_size
    _, metadata = load_model(content)
    assert metadata["settings"] == job.params
    assert metadata["dataset"] == {
        "name": "digits",
        "digest": model_version.dataset_digest,
    }
    assert metadata["code_version"] == model_version.code_version
    assert metadata["job"] == str(job.pk)


def test_later_versions_count_up_and_keep_the_first_default(owner: User) -> None:
    first, second = training_job(owner), training_job(owner)
    runner.run_training_job(first.pk)
    runner.run_training_job(second.pk)
    versions = ModelVersion.objects.filter(owner=owner).order_by("version")
    assert [(v.version, v.is_default) for v in versions] == [(1, True), (2, False)]


def test_demo_job_publishes_its_model(owner: User) -> None:
    job = training_job(owner, publish_model=True)
    runner.run_training_job(job.pk)
    assert ModelVersion.objects.get(training_job=job).is_public


def test_progress_and_phase_are_written_while_training(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)
    seen: list[tuple[str, float]] = []
    real_train = runner.train_model

    def watching_train(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        def spy(phase: str, fraction: float) -> None:
            callback(phase, fraction)
            row = Job.objects.get(pk=job.pk)
            seen.append((row.phase, row.progress))

        return real_train(settings, data_dir=data_dir, callback=spy)

    monkeypatch.setattr(runner, "train_model", watching_train)
    runner.run_training_job(job.pk)

    phases = [phase for phase, _ in seen]
    for phase in ("loading", "pca", "search", "fitting", "evaluating"):
        assert phase in phases
    progress = [value for _, value in seen]
    assert progress == sorted(progress)
    assert max(progress) < 1.0  # 1.0 only once the result is stored


def test_duplicate_delivery_of_a_live_job_is_ignored(owner: User) -> None:
    now = timezone.now()
    job = training_job(
        owner, state=Job.State.RUNNING, attempts=1, started_at=now, heartbeat_at=now
    )

    assert runner.run_training_job(job.pk) is runner.RunOutcome.BUSY

    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.RUNNING, 1)
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize("skew", [timedelta(hours=1), -timedelta(hours=1)])
def test_staleness_is_judged_by_the_database_clock(
    owner: User, monkeypatch: pytest.MonkeyPatch, skew: timedelta
) -> None:
    from webapp.jobs import maintenance

    fresh = training_job(owner, state=Job.State.RUNNING, attempts=1)
    stale = training_job(owner, state=Job.State.RUNNING, attempts=1)
    Job.objects.filter(pk=fresh.pk).update(heartbeat_at=Now())
    Job.objects.filter(pk=stale.pk).update(heartbeat_at=Now() - timedelta(hours=2))
    # This server's clock is an hour off the database's: it decides nothing.
    skewed = timezone.now() + skew
    monkeypatch.setattr(timezone, "now", lambda: skewed)

    assert runner.run_training_job(fresh.pk) is runner.RunOutcome.BUSY
    with transaction.atomic():
        assert maintenance.sweep_stale_jobs().requeued == 1
    fresh.refresh_from_db()
    stale.refresh_from_db()
    assert (fresh.state, fresh.attempts) == (Job.State.RUNNING, 1)
    assert stale.state == Job.State.QUEUED


@pytest.mark.parametrize(
    "state", [Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED]
)
def test_delivery_of_a_finished_job_does_nothing(owner: User, state: str) -> None:
    job = training_job(owner, state=state, attempts=1)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.SKIPPED
    job.refresh_from_db()
    assert (job.state, job.attempts) == (state, 1)
    assert not ModelVersion.objects.exists()


def test_delivery_of_an_unknown_job_does_nothing() -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert runner.run_training_job(missing) is runner.RunOutcome.SKIPPED


def test_training_task_never_runs_a_generation_job(
    owner: User, make_model_version: Any
) -> None:
    job = generation_job(owner, make_model_version(owner))
    assert runner.run_training_job(job.pk) is runner.RunOutcome.SKIPPED
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED


def test_stale_heartbeat_takeover_creates_exactly_one_model_version(
    owner: User,
) -> None:
    job = training_job(
        owner,
        state=Job.State.RUNNING,
        attempts=1,
        started_at=stale_time(),
        heartbeat_at=stale_time(),
    )

    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN
    # A late redelivery of the crashed attempt's message changes nothing.
    assert runner.run_training_job(job.pk) is runner.RunOutcome.SKIPPED

    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.SUCCEEDED, 2)
    assert ModelVersion.objects.filter(training_job=job).count() == 1
    assert ModelVersion.objects.count() == 1


def test_superseded_attempt_stores_nothing(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)
    real_train = runner.train_model

    def train_then_lose_the_claim(
        settings: Any, *, data_dir: Any, callback: Any
    ) -> Any:
        result = real_train(settings, data_dir=data_dir, callback=callback)
        # Another worker took the job over while this one was presumed dead.
        Job.objects.filter(pk=job.pk).update(attempts=2, heartbeat_at=timezone.now())
        return result

    monkeypatch.setattr(runner, "train_model", train_then_lose_the_claim)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN

    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.RUNNING, 2)
    assert not ModelVersion.objects.exists()


def test_a_stopping_worker_hands_its_training_back_without_using_an_attempt(
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = training_job(owner, celery_task_id="task-1")
    real_train = runner.train_model

    def stop_midway(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        # The worker got SIGTERM while this training ran; then it reports progress.
        assert runner.hand_back_trainings([(str(job.pk), "task-1")]) == 1
        return real_train(settings, data_dir=data_dir, callback=callback)

    monkeypatch.setattr(runner, "train_model", stop_midway)
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN

    job.refresh_from_db()
    assert (job.state, job.attempts, job.phase) == (Job.State.QUEUED, 0, "requeued")
    assert not job.requeue_requested
    assert not ModelVersion.objects.exists()
    # Sent again under its own task id; the next delivery runs it as attempt 1.
    assert dispatched.calls == [("training", job.pk, "task-1")]
    monkeypatch.setattr(runner, "train_model", real_train)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.SUCCEEDED, 1)


def test_a_hand_back_asked_of_a_dead_run_does_not_stop_the_next_one(
    owner: User,
) -> None:
    # Its worker was asked to stop, then killed before the next report; swept.
    job = training_job(owner, attempts=1, requeue_requested=True)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.SUCCEEDED, 2)
    assert not job.requeue_requested


def test_only_the_running_trainings_of_the_stopping_worker_are_handed_back(
    owner: User, make_model_version: Any
) -> None:
    running = training_job(
        owner, state=Job.State.RUNNING, attempts=1, celery_task_id="mine"
    )
    taken_over = training_job(
        owner, state=Job.State.RUNNING, attempts=2, celery_task_id="another"
    )
    generation = generation_job(owner, make_model_version(owner))
    Job.objects.filter(pk=generation.pk).update(
        state=Job.State.RUNNING, celery_task_id="gen"
    )
    asked = runner.hand_back_trainings(
        [(str(running.pk), "mine"), (str(taken_over.pk), "old"), (generation.pk, "gen")]
    )
    assert asked == 1
    assert list(Job.objects.filter(requeue_requested=True)) == [running]


def test_jobs_at_the_attempt_limit_are_not_taken_over(
    owner: User, settings: SettingsWrapper
) -> None:
    job = training_job(
        owner,
        state=Job.State.RUNNING,
        attempts=settings.JOB_MAX_ATTEMPTS,
        heartbeat_at=stale_time(),
    )
    assert runner.run_training_job(job.pk) is runner.RunOutcome.SKIPPED
    assert not ModelVersion.objects.exists()


def test_each_claim_reads_the_attempt_limit_and_stale_age_anew(
    owner: User, make_model_version: Any, settings: SettingsWrapper
) -> None:
    model_version = make_model_version(owner)
    # A first run, with the settings as they are (the claim compiled by now).
    first = generation_job(owner, model_version)
    assert runner.run_generation_job(first.pk) is runner.RunOutcome.RAN
    minutes_ago = timezone.now() - timedelta(minutes=10)

    def running(attempts: int) -> Job:
        job = generation_job(owner, model_version)
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.RUNNING, attempts=attempts, heartbeat_at=minutes_ago
        )
        return job

    settings.JOB_STALE_AFTER_SECONDS = 3600
    assert runner.run_generation_job(running(1).pk) is runner.RunOutcome.BUSY
    settings.JOB_STALE_AFTER_SECONDS = 60
    assert runner.run_generation_job(running(1).pk) is runner.RunOutcome.RAN
    settings.JOB_MAX_ATTEMPTS = 2
    assert runner.run_generation_job(running(2).pk) is runner.RunOutcome.SKIPPED
    settings.JOB_MAX_ATTEMPTS = 3
    taken_over = running(2)
    assert runner.run_generation_job(taken_over.pk) is runner.RunOutcome.RAN
    taken_over.refresh_from_db()
    assert (taken_over.state, taken_over.attempts) == (Job.State.SUCCEEDED, 3)


def test_cancel_requested_during_training_stops_it(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)
    real_train = runner.train_model
    phases: list[str] = []

    def train_and_cancel(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        def report(phase: str, fraction: float) -> None:
            phases.append(phase)
            if phase == "search":
                services.cancel_job(Job.objects.get(pk=job.pk))
            callback(phase, fraction)

        return real_train(settings, data_dir=data_dir, callback=report)

    monkeypatch.setattr(runner, "train_model", train_and_cancel)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert job.finished_at is not None
    assert "evaluating" not in phases  # stopped at the first report after the request
    assert not ModelVersion.objects.exists()


def test_failure_marks_the_job_failed_and_reraises(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)

    def broken(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        callback("loading", 0.0)
        raise RuntimeError("disk on fire\nsecond line of detail")

    monkeypatch.setattr(runner, "train_model", broken)
    with pytest.raises(RuntimeError):
        runner.run_training_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    # Every line: the last ones of a message often say what to do.
    assert job.error == "RuntimeError: disk on fire\nsecond line of detail"
    assert job.phase == "loading"
    assert not ModelVersion.objects.exists()


def test_soft_time_limit_marks_the_job_failed_and_reraises(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = training_job(owner)

    def too_slow(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(runner, "train_model", too_slow)
    with pytest.raises(SoftTimeLimitExceeded):
        runner.run_training_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == "Training exceeded its time limit."


def test_an_unavailable_data_set_fails_with_every_source_and_the_remedy(
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
    settings: SettingsWrapper,
    tmp_path: Any,
) -> None:
    from generator.datasets import sources

    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")
    settings.DATA_DIR = tmp_path
    params = services.validate_training_settings(
        {"dataset": "fashion-mnist", "n_components": 5, "bandwidth": 1.0}
    )
    job = training_job(owner, params=params)
    with pytest.raises(DatasetUnavailable):
        runner.run_training_job(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    lines = job.error.splitlines()
    assert lines[0] == (
        "DatasetUnavailable: Fashion-MNIST is unavailable; tried 2 source(s):"
    )
    assert "  - local directory: not configured (set FASHION_MNIST_DIR)" in lines
    assert lines[-1].startswith("Install Debian's package")


def test_invalid_stored_settings_fail_the_job(owner: User) -> None:
    job = training_job(owner, params={"cv_folds": 99})
    with pytest.raises(services.SettingsError):
        runner.run_training_job(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "cv_folds" in job.error


# --- Running generation jobs ----------------------------------------------------------


def test_generation_creates_a_gallery_of_decodable_pngs(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    job = generation_job(owner, model_version, n_images=6, digit=7, seed=100)

    assert runner.run_generation_job(job.pk) is runner.RunOutcome.RAN

    job.refresh_from_db()
    assert (job.state, job.progress) == (Job.State.SUCCEEDED, 1.0)
    gallery = Gallery.objects.get(job=job)
    assert (gallery.owner, gallery.model_version, gallery.n_images) == (
        owner,
        model_version,
        6,
    )
    assert (gallery.digit, gallery.seed, gallery.temperature) == (7, 100, 1.0)
    images = list(gallery.images.order_by("index"))
    assert [image.index for image in images] == list(range(6))
    assert [image.seed for image in images] == list(range(100, 106))
    assert {image.digit for image in images} == {7}
    for image in images:
        with Image.open(io.BytesIO(bytes(image.png))) as png:
            assert (png.format, png.mode, png.size) == ("PNG", "L", (8, 8))


def test_generation_is_reproducible_from_its_seed(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    first = generation_job(owner, model_version, seed=5)
    second = generation_job(owner, model_version, seed=5)
    runner.run_generation_job(first.pk)
    runner.run_generation_job(second.pk)

    def pngs(job: Job) -> list[bytes]:
        images = GeneratedImage.objects.filter(gallery__job=job).order_by("index")
        return [bytes(image.png) for image in images]

    assert pngs(first) == pngs(second)


def test_generation_redelivery_creates_no_second_gallery(
    owner: User, make_model_version: Any
) -> None:
    job = generation_job(owner, make_model_version(owner))
    runner.run_generation_job(job.pk)
    assert runner.run_generation_job(job.pk) is runner.RunOutcome.SKIPPED
    assert Gallery.objects.count() == 1
    assert GeneratedImage.objects.count() == 4


def test_generation_fails_cleanly_when_the_model_file_is_corrupt(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    ModelVersion.objects.filter(pk=model_version.pk).update(model_file=b"garbage")
    job = generation_job(owner, model_version)

    with pytest.raises(serving.ModelUnavailable):
        runner.run_generation_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "checksum" in job.error
    assert not Gallery.objects.exists()


def test_generation_fails_when_the_model_version_is_gone(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    job = generation_job(owner, model_version)
    model_version.delete()
    with pytest.raises(serving.ModelUnavailable):
        runner.run_generation_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.error) == (
        Job.State.FAILED,
        "The model version no longer exists.",
    )


def test_cancel_requested_during_generation_stops_it(
    owner: User, make_model_version: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = generation_job(owner, make_model_version(owner), n_images=50)
    real_image_to_png = runner.image_to_png
    calls = 0

    def render_then_cancel(image: Any) -> bytes:
        nonlocal calls
        calls += 1
        return real_image_to_png(image)

    def report_and_cancel(self: Any, phase: str, fraction: float) -> None:
        if phase == "sampling":
            Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        original_report(self, phase, fraction)

    original_report = runner._Run.report
    monkeypatch.setattr(runner._Run, "report", report_and_cancel)
    monkeypatch.setattr(runner, "image_to_png", render_then_cancel)

    runner.run_generation_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert calls == 0
    assert not Gallery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_keeps_a_long_step_alive(
    owner: User, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    import time

    settings.JOB_HEARTBEAT_SECONDS = 0.05
    job = training_job(owner)
    beats: list[Any] = []
    real_train = runner.train_model

    def one_long_step(settings: Any, *, data_dir: Any, callback: Any) -> Any:
        callback("loading", 0.0)
        # A step that reports nothing for a while, like one slow search fold.
        deadline = time.monotonic() + 10
        while len(set(beats)) < 3 and time.monotonic() < deadline:
            beats.append(Job.objects.get(pk=job.pk).heartbeat_at)
            time.sleep(0.01)
        return real_train(settings, data_dir=data_dir, callback=callback)

    monkeypatch.setattr(runner, "train_model", one_long_step)
    assert runner.run_training_job(job.pk) is runner.RunOutcome.RAN
    assert len(set(beats)) >= 3
    assert beats == sorted(beats)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_is_woken_only_for_a_beat_before_its_own_wake(
    owner: User, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    import time

    from tests.integration.integration_support import wait_for

    long_ago = timezone.now() - timedelta(hours=1)
    jobs = [
        training_job(owner, state=Job.State.RUNNING, attempts=1, heartbeat_at=long_ago)
        for _ in range(3)
    ]
    heartbeats = runner._Heartbeats()
    wakes: list[float] = []
    real_notify = heartbeats._changed.notify

    def notify(n: int = 1) -> None:
        wakes.append(time.monotonic())
        real_notify(n)

    monkeypatch.setattr(heartbeats._changed, "notify", notify)

    def waiting_until() -> float:
        with heartbeats._changed:
            return heartbeats._wakes_at

    settings.JOB_HEARTBEAT_SECONDS = 30
    with heartbeats.keep(jobs[0].pk, 1):
        # The thread waits for the first job's beat, 30 s away.
        wait_for(
            lambda: waiting_until() < float("inf"),
            timeout=10,
            what="the heartbeat thread waiting",
        )
        woken = len(wakes)
        # A job whose first beat comes later: the thread wakes in time anyway.
        settings.JOB_HEARTBEAT_SECONDS = 60
        with heartbeats.keep(jobs[1].pk, 1):
            assert len(wakes) == woken
        # One whose beat comes first wakes it, and is beaten in time.
        settings.JOB_HEARTBEAT_SECONDS = 0.05
        with heartbeats.keep(jobs[2].pk, 1):
            assert len(wakes) == woken + 1
            wait_for(
                lambda: Job.objects.get(pk=jobs[2].pk).heartbeat_at > long_ago,
                timeout=10,
                what="the third job's beat",
            )
    assert Job.objects.get(pk=jobs[1].pk).heartbeat_at == long_ago


def test_a_generation_run_takes_few_queries(
    owner: User, make_model_version: Any, django_assert_num_queries: Any
) -> None:
    model_version = make_model_version(owner)
    runner.run_generation_job(generation_job(owner, model_version).pk)  # loads it
    job = generation_job(owner, model_version, n_images=16)
    # The claim (which reads what the run needs of the job, the checksum of its
    # model version among it, and writes the "loading" phase; the model is cached:
    # no "sampling" write); then the success, the gallery and its images: one
    # statement on PostgreSQL, elsewhere three in a transaction (a savepoint here).
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 6):
        assert runner.run_generation_job(job.pk) is runner.RunOutcome.RAN
    job.refresh_from_db()
    assert (job.state, job.phase) == (Job.State.SUCCEEDED, "done")
    assert Gallery.objects.get(job=job).images.count() == 16


def test_successive_jobs_share_the_process_heartbeat_thread(
    owner: User, make_model_version: Any, settings: SettingsWrapper
) -> None:
    import threading

    settings.JOB_HEARTBEAT_SECONDS = 5
    model_version = make_model_version(owner)
    for seed in (1, 2, 3):
        job = generation_job(owner, model_version, seed=seed)
        assert runner.run_generation_job(job.pk) is runner.RunOutcome.RAN
    names = [thread.name for thread in threading.enumerate()]
    assert names.count("job-heartbeats") == 1


def test_a_cancellation_while_sampling_from_a_cached_model_stores_nothing(
    owner: User, make_model_version: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_version = make_model_version(owner)
    runner.run_generation_job(generation_job(owner, model_version).pk)  # loads it
    job = generation_job(owner, model_version, n_images=8)
    real_image_to_png = runner.image_to_png

    def cancel_then_render(image: Any) -> bytes:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        return real_image_to_png(image)

    monkeypatch.setattr(runner, "image_to_png", cancel_then_render)
    assert runner.run_generation_job(job.pk) is runner.RunOutcome.RAN
    job.refresh_from_db()
    assert (job.state, job.progress) == (Job.State.CANCELLED, 0.0)
    assert not Gallery.objects.filter(job=job).exists()
