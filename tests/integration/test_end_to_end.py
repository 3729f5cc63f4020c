"""The issue's scenarios through the real stack: the API on a live server,
PostgreSQL, Redis and a Celery worker subprocess."""

from __future__ import annotations

import io
import signal
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from tests.integration.integration_support import (
    BIG_TRAINING,
    PASSWORD,
    Api,
    WorkerProcess,
    catch_running,
    sign_up,
    wait_finished,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SMALL_TRAINING = {
    "name": "small",
    "preset": "preview",
    "n_components": 5,
    "bandwidth": 0.5,
}


def wait_evaluated(api: Api, gallery_url: str, worker: WorkerProcess) -> Any:
    """The gallery's quality figures, once its gallery.evaluate task has run."""

    def evaluated() -> dict[str, Any] | None:
        status, gallery = api.get(gallery_url)
        assert status == 200, gallery
        assert gallery["evaluation_state"] in ("pending", "done"), gallery
        return gallery if gallery["evaluation_state"] == "done" else None

    gallery = wait_for(evaluated, timeout=15, what="the gallery's figures", log=worker)
    return gallery["evaluation"]


def png_size(content: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == "PNG"
        image.load()
        return image.size


def test_sign_up_train_generate_and_fetch_the_gallery(
    api: Callable[[], Api], celery_worker: WorkerProcess
) -> None:
    anonymous = api()
    assert anonymous.get("/api/v1/jobs/")[0] == 401
    alice = sign_up(api(), "alice")
    status, body = anonymous.post(
        "/api/v1/auth/token", {"username": "alice", "password": PASSWORD}
    )
    assert (status, body) == (200, {"token": alice.token})

    settings = {
        "name": "conditional digits",
        "dataset": "digits",
        "n_components": 16,
        "whiten": False,
        "kernel": "gaussian",
        "bandwidth": "cv",
        "bandwidth_grid": {"start": 0.3, "stop": 3.0, "num": 8},
        "cv_folds": 3,
        "n_train": 1000,
        "class_conditional": True,
        "seed": 11,
    }
    status, job = alice.post("/api/v1/training-runs", settings)
    assert status == 202, job
    assert job["state"] == "queued"

    job = wait_finished(alice, job["id"], celery_worker)
    assert job["state"] == "succeeded", job
    assert (job["progress"], job["attempts"], job["error"]) == (1.0, 1, "")
    assert job["started_at"]
    assert job["finished_at"]

    status, model = alice.get(job["links"]["model_version"])
    assert status == 200, model
    assert (model["name"], model["version"], model["is_default"]) == (
        "conditional digits",
        1,
        True,
    )
    metrics = model["metrics"]
    assert metrics["n_train"] == 1000
    assert metrics["original_dim"] == 64
    assert metrics["n_components"] == 16
    assert len(metrics["explained_variance_curve"]) == 16
    assert metrics["explained_variance_curve"] == sorted(
        metrics["explained_variance_curve"]
    )
    assert len(metrics["cv"]["bandwidths"]) == 8
    assert len(metrics["cv"]["fold_log_likelihood"]) == 3
    assert metrics["bandwidth"] in metrics["cv"]["bandwidths"]
    assert metrics["classes"] == list(range(10))
    assert model["stats"] == {
        "pca_components": 16,
        "variance_explained": metrics["explained_variance"],
        "kde_bandwidth": metrics["bandwidth"],
        "original_dim": 64,
        "reduced_dim": 16,
    }
    status, content = alice.get(model["download_url"], raw=True)
    assert status == 200
    assert content[:2] == b"PK"

    status, job = alice.post(
        "/api/v1/generations", {"n_images": 16, "digit": 7, "seed": 5}
    )
    assert status == 202, job
    job = wait_finished(alice, job["id"], celery_worker)
    assert job["state"] == "succeeded", job

    status, gallery = alice.get(job["links"]["gallery"])
    assert status == 200, gallery
    assert (gallery["n_images"], gallery["digit"], gallery["seed"]) == (16, 7, 5)
    assert gallery["model_version"] == model["id"]
    assert len(gallery["images"]) == 16
    for image in gallery["images"]:
        status, content = alice.get(image["url"], raw=True)
        assert status == 200
        assert png_size(content) == (8, 8)
    # The job succeeded with its images; the figures follow from their own task.
    assert gallery["evaluation_state"] in ("pending", "done")
    evaluation = wait_evaluated(alice, gallery["url"], celery_worker)
    assert evaluation["n_images"] == 16
    assert 0.0 <= evaluation["digit_match_fraction"] <= 1.0
    status, content = alice.get(gallery["grid_url"], raw=True)
    assert status == 200
    assert png_size(content)[0] > 8 * 4
    status, content = alice.get(gallery["download_url"], raw=True)
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        pngs = [name for name in archive.namelist() if name.endswith(".png")]
        assert len(pngs) == 16
        assert all(png_size(archive.read(name)) == (8, 8) for name in pngs)

    # The old app's API answers from alice's default model.
    status, stats = alice.get("/stats")
    assert (status, stats) == (200, model["stats"])
    status, generated = alice.post("/generate", {"n_samples": 4})
    assert status == 200
    assert (generated["success"], generated["count"]) == (True, 4)

    # Nobody else sees any of it.
    bob = sign_up(api(), "bob")
    for url in (
        f"/api/v1/jobs/{job['id']}",
        job["links"]["gallery"],
        model["url"],
        model["download_url"],
        gallery["images"][0]["url"],
        gallery["grid_url"],
    ):
        assert bob.get(url, raw=True)[0] == 404, url
    assert bob.get("/api/v1/jobs/")[1]["results"] == []
    status, body = bob.post("/api/v1/generations", {"model_version": model["id"]})
    assert status == 400
    assert bob.get("/stats")[0] == 503


def catch_big_training(
    api: Api, worker: WorkerProcess, signum: int
) -> tuple[str, list[int]]:
    """Queue a big training and send ``signum`` to the pool once it is running."""

    def submit() -> str:
        status, job = api.post("/api/v1/training-runs", BIG_TRAINING)
        assert status == 202, job
        return str(job["id"])

    return catch_running(submit, worker, signum)


def test_a_per_class_model_trains_generates_and_its_figures_follow_the_images(
    api: Callable[[], Api], celery_worker: WorkerProcess
) -> None:
    bob = sign_up(api(), "bob-per-class")
    status, job = bob.post(
        "/api/v1/training-runs",
        {
            "name": "per digit",
            "preset": "preview",
            "pca_scope": "per_class",
            "n_components": 0.8,
            "temperature": 1.2,
        },
    )
    assert status == 202, job
    job = wait_finished(bob, job["id"], celery_worker)
    assert job["state"] == "succeeded", job
    status, model = bob.get(job["links"]["model_version"])
    assert status == 200, model
    assert model["settings"]["pca_scope"] == "per_class"
    rows = model["stats"]["per_class"]
    assert [row["class"] for row in rows] == list(range(10))
    assert all(row["n_components"] >= 1 and row["bandwidth"] > 0 for row in rows)

    status, job = bob.post("/api/v1/generations", {"n_images": 12, "digit": 3})
    assert status == 202, job
    assert job["params"]["temperature"] == 1.2  # the model version's own
    job = wait_finished(bob, job["id"], celery_worker)
    assert job["state"] == "succeeded", job
    status, gallery = bob.get(job["links"]["gallery"])
    assert status == 200, gallery
    # The images are there when the job succeeds, whatever the figures' state.
    assert len(gallery["images"]) == 12
    assert gallery["evaluation_state"] in ("pending", "done")
    evaluation = wait_evaluated(bob, gallery["url"], celery_worker)
    assert evaluation["n_images"] == 12
    assert evaluation["digit_match_fraction"] >= 0.75


def test_cancel_a_queued_and_a_running_job(
    api: Callable[[], Api], celery_worker: WorkerProcess
) -> None:
    from webapp.jobs.models import Job, ModelVersion

    carol = sign_up(api(), "carol")
    running_id, _ = catch_big_training(carol, celery_worker, signal.SIGSTOP)
    try:
        # The only worker process is busy (paused mid-training): this one waits.
        status, queued = carol.post("/api/v1/training-runs", SMALL_TRAINING)
        assert status == 202
        assert carol.get(f"/api/v1/jobs/{queued['id']}")[1]["queue_position"] == 1

        status, cancelled = carol.post(f"/api/v1/jobs/{queued['id']}/cancel")
        assert status == 200, cancelled
        assert cancelled["state"] == "cancelled"

        status, requested = carol.post(f"/api/v1/jobs/{running_id}/cancel")
        assert status == 200, requested
        assert (requested["state"], requested["cancel_requested"]) == (
            "running",
            True,
        )
    finally:
        celery_worker.signal_children(signal.SIGCONT)

    job = wait_finished(carol, running_id, celery_worker)
    assert job["state"] == "cancelled", job
    assert job["model_version"] is None
    assert not ModelVersion.objects.filter(training_job_id=running_id).exists()

    # A job queued after the cancelled one runs once the worker has read past it.
    status, after = carol.post("/api/v1/training-runs", SMALL_TRAINING)
    assert status == 202
    assert wait_finished(carol, after["id"], celery_worker)["state"] == "succeeded"
    never_started = Job.objects.get(pk=queued["id"])
    assert (never_started.state, never_started.attempts) == (Job.State.CANCELLED, 0)
    assert never_started.started_at is None
    assert f"Job {queued['id']} not claimed" in celery_worker.log()

    status, body = carol.post(f"/api/v1/jobs/{after['id']}/cancel")
    assert status == 409, body


def test_a_job_whose_worker_process_dies_is_taken_over(
    api: Callable[[], Api], celery_worker: WorkerProcess
) -> None:
    from webapp.jobs.models import ModelVersion

    dave = sign_up(api(), "dave")
    job_id, _ = catch_big_training(dave, celery_worker, signal.SIGKILL)

    # Celery requeues the message of the killed process; the redelivery finds the
    # heartbeat still fresh, looks again once it is stale, and takes the job over.
    job = wait_finished(dave, job_id, celery_worker)
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 2
    assert ModelVersion.objects.filter(training_job_id=job_id).count() == 1
    assert f"Job {job_id} claimed (attempt 2)" in celery_worker.log()


def test_beat_schedules_the_sweeper(
    api: Callable[[], Api],
    celery_worker: WorkerProcess,
    start_beat: Callable[[dict[str, str]], WorkerProcess],
) -> None:
    from django.conf import settings
    from django.contrib.auth.models import User

    from webapp.jobs.models import Job

    owner = User.objects.create_user(username="erin", password=PASSWORD)
    # A job whose worker vanished for good: it has used up its attempts.
    abandoned = Job.objects.create(
        owner=owner,
        kind=Job.Kind.TRAINING,
        state=Job.State.RUNNING,
        attempts=settings.JOB_MAX_ATTEMPTS,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    beat = start_beat({"JOB_SWEEP_INTERVAL_SECONDS": "1"})

    def swept() -> bool:
        abandoned.refresh_from_db()
        return abandoned.state == Job.State.FAILED

    wait_for(swept, timeout=60, what="the sweeper to fail the job", log=beat)
    assert "stopped responding" in abandoned.error
    assert "Sending due task sweep-stale-jobs (jobs.sweep)" in beat.log()
