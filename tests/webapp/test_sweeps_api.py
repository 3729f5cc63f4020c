from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from tests.integration.integration_support import wait_for
from webapp.gallery.models import Gallery
from webapp.jobs import runner
from webapp.jobs.models import Job, ModelVersion, lock_owner
from webapp.jobs.services import JobConflict, create_generation_job
from webapp.sweeps import services
from webapp.sweeps.models import Sweep, SweepRun

pytestmark = pytest.mark.django_db

URL = "/api/v1/sweeps"

BASE = {
    "preset": "preview",
    "dataset": "digits",
    "n_train": 200,
    "bandwidth": 1.0,
    "n_components": 5,
}


def post(client: APIClient, body: Any, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(URL, body, format="json")


@pytest.fixture
def create(
    api_client: APIClient, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> Any:
    def create(grid: dict[str, list[Any]], **body: Any) -> Any:
        body = {"name": "kernels", "base": BASE, "grid": grid, **body}
        return post(api_client, body, django_capture_on_commit_callbacks)

    return create


def test_anonymous_gets_401(anonymous_client: APIClient) -> None:
    response = anonymous_client.post(URL, {"grid": {"seed": [1]}}, format="json")
    assert response.status_code == 401
    assert anonymous_client.get(URL).status_code == 401
    assert not Sweep.objects.exists()


def test_create_makes_a_job_per_combination_and_queues_them(
    create: Any, owner: User, dispatched: Any
) -> None:
    response = create({"kernel": ["gaussian", "tophat"], "n_components": [4, 6, 8]})

    assert response.status_code == 202, response.json()
    data = response.json()
    sweep = Sweep.objects.get()
    assert response["Location"].endswith(f"/api/v1/sweeps/{sweep.pk}")
    assert (data["id"], data["name"], data["state"]) == (
        str(sweep.pk),
        "kernels",
        "running",
    )
    assert (data["total"], data["finished"]) == (6, 0)
    runs = list(SweepRun.objects.select_related("job"))
    assert data["jobs"] == [str(run.job_id) for run in runs]
    assert [run.values for run in runs] == [
        {"kernel": kernel, "n_components": n}
        for kernel in ("gaussian", "tophat")
        for n in (4, 6, 8)
    ]
    for run in runs:
        job = run.job
        assert (job.owner, job.kind) == (owner, "training")
        assert job.params["kernel"] == run.values["kernel"]
        assert job.params["n_components"] == run.values["n_components"]
        assert job.params["n_train"] == 200
        assert job.name.startswith("kernels · kernel=")
    # Four slots (MAX_ACTIVE_TRAINING_JOBS): the first four are queued, sent once.
    states = [run.job.state for run in runs]
    assert states == ["queued"] * 4 + ["waiting"] * 2
    assert dispatched.job_ids == [run.job_id for run in runs[:4]]


def test_runs_are_fed_in_as_slots_free_up(
    create: Any,
    api_client: APIClient,
    settings: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    response = create({"seed": [1, 2, 3]})
    assert response.status_code == 202, response.json()
    jobs = [run.job for run in SweepRun.objects.select_related("job")]
    assert dispatched.job_ids == [jobs[0].pk]

    for index, job in enumerate(jobs):
        with django_capture_on_commit_callbacks(execute=True):
            runner.run_training_job(job.pk)
        assert dispatched.job_ids == [job.pk for job in jobs[: index + 2]]

    assert set(Job.objects.values_list("state", flat=True)) == {"succeeded"}
    data = api_client.get(f"{URL}/{response.json()['id']}").json()
    assert (data["state"], data["total"], data["finished"]) == ("succeeded", 3, 3)
    assert all(run["model_version"] is not None for run in data["runs"])
    assert all(isinstance(run["test_log_likelihood"], float) for run in data["runs"])


def test_each_run_gives_its_models_sample_confidence(
    create: Any,
    api_client: APIClient,
    owner: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = create({"seed": [1, 2]})
    assert response.status_code == 202, response.json()
    assert [run["sample_confidence"] for run in response.json()["runs"]] == [
        None,
        None,
    ]
    runs = list(SweepRun.objects.select_related("job").order_by("position"))
    for run in runs:
        with django_capture_on_commit_callbacks(execute=True):
            runner.run_training_job(run.job_id)
    scored = ModelVersion.objects.get(training_job=runs[0].job_id)
    galleries = [
        Gallery.objects.create(
            owner=owner,
            model_version=scored,
            n_images=1,
            seed=1,
            evaluation={"mean_confidence": confidence},
            evaluation_state=Gallery.EvaluationState.DONE,
            **fields,
        )
        for confidence, fields in ((0.8, {}), (0.95, {"digit": 4}))
    ]
    detail = api_client.get(f"{URL}/{response.json()['id']}").json()
    listed = api_client.get(URL).json()["results"][0]
    for data in (detail, listed):
        # A gallery with a digit asked says nothing of the model's own samples.
        assert [run["sample_confidence"] for run in data["runs"]] == [0.8, None]
        assert [run["sample_gallery"] for run in data["runs"]] == [
            galleries[0].pk,
            None,
        ]


def test_a_cancelled_job_frees_its_slot_for_a_waiting_run(
    create: Any,
    api_client: APIClient,
    settings: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    create({"seed": [1, 2]})
    first, second = (run.job for run in SweepRun.objects.select_related("job"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/v1/jobs/{first.pk}/cancel")
    assert response.status_code == 200
    second.refresh_from_db()
    assert second.state == "queued"
    assert dispatched.job_ids == [first.pk, second.pk]


def test_duplicate_combinations_are_collapsed(create: Any) -> None:
    response = create(
        {"n_components": [10, 10, 20], "seed": [0, 0]},
    )
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["total"] == 2
    assert data["grid"] == {"n_components": [10, 20], "seed": [0]}
    assert Job.objects.count() == 2


def test_combinations_equal_once_validated_are_one_run(create: Any) -> None:
    response = create(
        {
            "bandwidth_grid": [
                [0.2, 2.0, 3],
                {"start": 0.2, "stop": 2.0, "num": 3},
            ]
        },
        base={**BASE, "bandwidth": "cv"},
    )
    assert response.status_code == 202, response.json()
    assert response.json()["total"] == 1


def test_too_many_combinations_is_400_with_the_count(
    create: Any, settings: Any, dispatched: Any
) -> None:
    settings.MAX_SWEEP_COMBINATIONS = 5
    response = create({"seed": [1, 2, 3], "kernel": ["gaussian", "tophat"]})
    assert response.status_code == 400
    assert response.json() == {
        "grid": ["The grid makes 6 combinations; a sweep runs at most 5."]
    }
    assert not Sweep.objects.exists()
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_every_bad_setting_of_every_combination_is_reported(
    create: Any, dispatched: Any
) -> None:
    response = create(
        {"kernel": ["gaussian", "triangle"], "cv_folds": [3, 1]},
        base={**BASE, "n_train": -5, "colour": "red"},
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"base", "grid"}
    assert set(errors["base"]) == {"n_train", "colour"}
    assert errors["base"]["colour"] == ["Unknown field."]
    assert set(errors["grid"]) == {"kernel", "cv_folds"}
    assert len(errors["grid"]["kernel"]) == 1
    assert errors["grid"]["kernel"][0].startswith('"triangle": ')
    assert errors["grid"]["cv_folds"][0].startswith("1: ")
    assert not Sweep.objects.exists()
    assert not Job.objects.exists()
    assert dispatched.calls == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grid": {}}, "grid"),
        ({"grid": {"seed": []}}, "grid"),
        ({"grid": {"name": ["a", "b"]}}, "grid"),
        ({"grid": {"seed": 5}}, "grid"),
        ({"grid": ["seed"]}, "grid"),
        ({"grid": {"seed": [1]}, "base": [1]}, "base"),
        ({}, "grid"),
    ],
)
def test_malformed_requests_are_400(
    api_client: APIClient, body: dict[str, Any], field: str
) -> None:
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Sweep.objects.exists()


def test_list_shows_only_ones_own_sweeps(
    create: Any, api_client: APIClient, other_client: APIClient
) -> None:
    sweep_id = create({"seed": [1, 2]}).json()["id"]
    data = api_client.get(URL + "/").json()
    assert data["count"] == 1
    assert [sweep["id"] for sweep in data["results"]] == [sweep_id]
    assert data["results"][0]["total"] == 2
    assert other_client.get(URL + "/").json()["count"] == 0


def test_other_user_gets_404(create: Any, other_client: APIClient) -> None:
    sweep_id = create({"seed": [1, 2]}).json()["id"]
    assert other_client.get(f"{URL}/{sweep_id}").status_code == 404
    assert other_client.post(f"{URL}/{sweep_id}/cancel").status_code == 404
    assert set(Job.objects.values_list("state", flat=True)) == {"queued"}


def test_cancel_ends_waiting_and_queued_runs_and_stops_running_ones(
    create: Any,
    api_client: APIClient,
    settings: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MAX_ACTIVE_TRAINING_JOBS = 2
    sweep_id = create({"seed": [1, 2, 3, 4]}).json()["id"]
    running, queued, *waiting = (
        run.job for run in SweepRun.objects.select_related("job")
    )
    Job.objects.filter(pk=running.pk).update(state="running")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{URL}/{sweep_id}/cancel")

    assert response.status_code == 200
    data = response.json()
    assert (data["state"], data["cancel_requested"], data["finished"]) == (
        "running",
        True,
        3,
    )
    states = {job.pk: (job.state, job.cancel_requested) for job in Job.objects.all()}
    assert states[running.pk] == ("running", True)
    for job in (queued, *waiting):
        assert states[job.pk] == ("cancelled", True)
    # Nothing new was sent while cancelling.
    assert dispatched.job_ids == [running.pk, queued.pk]

    # The worker notices the request and ends the run: the sweep is cancelled.
    Job.objects.filter(pk=running.pk).update(state="cancelled")
    data = api_client.get(f"{URL}/{sweep_id}").json()
    assert (data["state"], data["finished"]) == ("cancelled", 4)
    assert api_client.post(f"{URL}/{sweep_id}/cancel").status_code == 409


def test_periodic_feeding_queues_runs_a_missed_signal_left_waiting(
    create: Any,
    settings: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from webapp.sweeps import services

    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    create({"seed": [1, 2]})
    first, second = (run.job for run in SweepRun.objects.select_related("job"))
    # Ended without a signal (a stale job failed by the stale-job sweeper).
    Job.objects.filter(pk=first.pk).update(state="failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.feed_all_waiting_jobs() == 1
    second.refresh_from_db()
    assert second.state == "queued"
    assert dispatched.job_ids == [first.pk, second.pk]


def test_a_full_storage_fails_waiting_runs_with_the_reason(
    create: Any, settings: Any, owner: User, make_model_version: Any
) -> None:
    from webapp.sweeps import services

    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    create({"seed": [1, 2]})
    first, second = (run.job for run in SweepRun.objects.select_related("job"))
    make_model_version(owner, model_size=600 * 1024 * 1024)
    Job.objects.filter(pk=first.pk).update(state="succeeded")
    assert services.feed_all_waiting_jobs() == 0
    second.refresh_from_db()
    assert second.state == "failed"
    assert "storage is full" in second.error


def test_a_full_storage_refuses_the_sweep_with_409(
    create: Any, owner: User, make_model_version: Any
) -> None:
    make_model_version(owner, model_size=600 * 1024 * 1024)
    response = create({"seed": [1, 2]})
    assert response.status_code == 409
    assert not Sweep.objects.exists()
    assert not Job.objects.exists()


@pytest.fixture
def trained_sweep(
    create: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> tuple[str, list[ModelVersion | None]]:
    """A sweep of three runs, the first two trained (the third still queued), and
    gallery evaluation on: its id and each run's model."""
    settings.GALLERY_EVALUATION = True
    response = create({"seed": [1, 2, 3]})
    assert response.status_code == 202, response.json()
    runs = list(SweepRun.objects.select_related("job").order_by("position"))
    for run in runs[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            runner.run_training_job(run.job_id)
    models = [
        ModelVersion.objects.filter(training_job=run.job_id).first() for run in runs
    ]
    return response.json()["id"], models


def sample(client: APIClient, sweep_id: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(f"{URL}/{sweep_id}/sample")


def test_sampling_queues_a_gallery_from_each_runs_model_without_a_confidence(
    trained_sweep: tuple[str, list[ModelVersion | None]],
    api_client: APIClient,
    owner: User,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sweep_id, (scored, unscored, untrained) = trained_sweep
    assert untrained is None
    Gallery.objects.create(
        owner=owner,
        model_version=scored,
        n_images=1,
        seed=1,
        evaluation={"mean_confidence": 0.8},
        evaluation_state=Gallery.EvaluationState.DONE,
    )
    response = sample(api_client, sweep_id, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    (job,) = Job.objects.filter(kind=Job.Kind.GENERATION)
    assert response.json() == {
        "jobs": [str(job.pk)],
        "images_per_run": 64,
        "on_the_way": 0,
        "refused": None,
    }
    assert (job.owner, job.state) == (owner, Job.State.QUEUED)
    assert (job.params["model_version"], job.params["n_images"]) == (unscored.pk, 64)
    assert (job.params["seed"], job.params["digit"]) == (0, None)
    assert dispatched.calls[-1][:2] == ("generation", job.pk)

    # Its sample is on its way: queued, then being evaluated; nothing more to do.
    for _ in range(2):
        again = sample(api_client, sweep_id, django_capture_on_commit_callbacks)
        assert again.status_code == 409
        assert again.json()["detail"] == "Every run's sample is on its way already."
        Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
        gallery = Gallery.objects.create(
            owner=owner,
            model_version=unscored,
            n_images=64,
            seed=0,
            evaluation_state=Gallery.EvaluationState.PENDING,
        )
    # Evaluated: every run with a model has its confidence.
    Gallery.objects.filter(pk=gallery.pk).update(
        evaluation={"mean_confidence": 0.9},
        evaluation_state=Gallery.EvaluationState.DONE,
    )
    runs = api_client.get(f"{URL}/{sweep_id}").json()["runs"]
    assert [run["sample_confidence"] for run in runs] == [0.8, 0.9, None]
    done = sample(api_client, sweep_id, django_capture_on_commit_callbacks)
    assert done.status_code == 409
    assert done.json()["detail"].startswith("No run's model lacks a sample confidence")
    assert Job.objects.filter(kind=Job.Kind.GENERATION).count() == 1


def test_sampling_queues_what_the_generation_limit_allows(
    trained_sweep: tuple[str, list[ModelVersion | None]],
    api_client: APIClient,
    settings: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sweep_id, models = trained_sweep
    settings.MAX_ACTIVE_GENERATION_JOBS = 1
    response = sample(api_client, sweep_id, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    data = response.json()
    assert len(data["jobs"]) == 1
    assert "the most allowed at once (1)" in data["refused"], data["refused"]
    job = Job.objects.get(kind=Job.Kind.GENERATION)
    assert job.params["model_version"] == models[0].pk
    # The second run's model is not on its way, and no slot is free.
    refused = sample(api_client, sweep_id, django_capture_on_commit_callbacks)
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert Job.objects.filter(kind=Job.Kind.GENERATION).count() == 1


def test_sampling_is_refused_without_gallery_evaluation_or_for_others(
    trained_sweep: tuple[str, list[ModelVersion | None]],
    api_client: APIClient,
    other_client: APIClient,
    anonymous_client: APIClient,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sweep_id, _ = trained_sweep
    assert (
        sample(other_client, sweep_id, django_capture_on_commit_callbacks).status_code
        == 404
    )
    assert (
        sample(
            anonymous_client, sweep_id, django_capture_on_commit_callbacks
        ).status_code
        == 401
    )
    assert api_client.post(f"{URL}/not-a-uuid/sample").status_code == 404
    settings.GALLERY_EVALUATION = False
    off = sample(api_client, sweep_id, django_capture_on_commit_callbacks)
    assert off.status_code == 409
    assert "GALLERY_EVALUATION is off" in off.json()["detail"]
    assert not Job.objects.filter(kind=Job.Kind.GENERATION).exists()


@pytest.mark.django_db(transaction=True)
def test_two_sampling_clicks_at_once_queue_each_sample_once(
    owner: User, settings: Any, make_model_version: Any, dispatched: Any
) -> None:
    """The second click waits for the owner's lock, then sees the first one's job:
    it cannot have looked before the first queued it."""
    if connection.vendor != "postgresql":
        pytest.skip("watches PostgreSQL's lock table")
    settings.GALLERY_EVALUATION = True
    job = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING, state="succeeded")
    model = make_model_version(owner)
    ModelVersion.objects.filter(pk=model.pk).update(training_job=job)
    sweep = Sweep.objects.create(owner=owner, name="race")
    SweepRun.objects.create(sweep=sweep, job=job, position=0)
    outcome: list[str] = []

    def click() -> None:
        try:
            loaded = Sweep.objects.with_progress().with_runs().get(pk=sweep.pk)
            services.sample_runs(loaded, owner)
            outcome.append("queued")
        except JobConflict as conflict:
            outcome.append(str(conflict))
        finally:
            connections.close_all()

    second = threading.Thread(target=click)
    with transaction.atomic():
        # The first click holds the lock, and queues its sample under it.
        lock_owner(owner.pk)
        second.start()

        def second_waits() -> bool:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                (waiting,) = cursor.fetchone()
            return waiting > 0

        wait_for(second_waits, timeout=30, what="the second click")
        create_generation_job(owner, model_version=model, n_images=64, seed=0)
    second.join(timeout=30)
    assert outcome == ["Every run's sample is on its way already."]
    assert Job.objects.filter(kind=Job.Kind.GENERATION).count() == 1
