"""webapp/gallery/evaluation.py: a gallery's quality figures, computed after the
generation job has stored its images."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from pytest_django import Settings as SettingsWrapper

from tests.webapp.job_rows import generation_job
from webapp.gallery import evaluation
from webapp.gallery.models import Gallery
from webapp.jobs import dispatch, runner
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

State = Gallery.EvaluationState


@pytest.fixture
def generate(
    owner: User,
    make_model_version: Any,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> Any:
    """Run a generation job with evaluation on; (its gallery, evaluations sent)."""

    def run(**params: Any) -> tuple[Gallery, list[tuple[int, str]]]:
        settings.GALLERY_EVALUATION = True
        sent: list[tuple[int, str]] = []
        monkeypatch.setattr(
            dispatch,
            "evaluate_gallery",
            lambda gallery_id, *, task_id: sent.append((gallery_id, task_id)),
        )
        job = generation_job(owner, make_model_version(owner), **params)
        with django_capture_on_commit_callbacks(execute=True):
            runner.run_generation_job(job.pk)
        return Gallery.objects.get(job=job), sent

    return run


def test_the_job_succeeds_with_its_images_and_queues_the_evaluation(
    generate: Any,
) -> None:
    gallery, sent = generate(n_images=6)
    assert Job.objects.get(pk=gallery.job_id).state == Job.State.SUCCEEDED
    assert gallery.images.count() == 6
    assert (gallery.evaluation_state, gallery.evaluation) == (State.PENDING, None)
    assert sent == [(gallery.pk, f"gallery-{gallery.pk}-evaluate")]


def test_no_evaluation_is_queued_when_it_is_off(
    owner: User,
    make_model_version: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(dispatch, "evaluate_gallery", lambda *a, **k: sent.append(a))
    job = generation_job(owner, make_model_version(owner))
    with django_capture_on_commit_callbacks(execute=True):
        runner.run_generation_job(job.pk)
    gallery = Gallery.objects.get(job=job)
    assert gallery.evaluation_state == State.OFF
    assert sent == []
    assert evaluation.evaluate_gallery(gallery.pk) is None


@pytest.mark.parametrize("digit", [None, 3])
def test_the_task_scores_the_stored_pixels_on_their_own_scale(
    generate: Any, digit: int | None
) -> None:
    # Sampled images are 0..255 whatever the data set, while digits' own pixel_max
    # is 16: read on that scale, a gallery's novelty came out ~50 against ~1 for the
    # real test images (the confidence stayed high, so it cannot tell the two apart).
    gallery, _ = generate(n_images=20, digit=digit)
    assert evaluation.evaluate_gallery(gallery.pk) == State.DONE

    gallery.refresh_from_db()
    assert gallery.evaluation_state == State.DONE
    figures = gallery.evaluation
    assert figures is not None
    assert figures["n_images"] == 20
    real = figures["novelty_real_test"]
    assert 0.0 < real < 3.0
    assert real / 3 < figures["novelty"] < 3 * real
    assert 0.5 < figures["mean_confidence"] <= 1.0
    if digit is not None:
        assert figures["digit_match_fraction"] >= 0.5
    else:
        assert "digit_match_fraction" not in figures


def test_a_duplicate_delivery_changes_nothing(generate: Any) -> None:
    gallery, _ = generate()
    evaluation.evaluate_gallery(gallery.pk)
    first = Gallery.objects.get(pk=gallery.pk).evaluation
    assert evaluation.evaluate_gallery(gallery.pk) is None
    assert Gallery.objects.get(pk=gallery.pk).evaluation == first


def test_a_gallery_whose_model_version_was_deleted_fails_its_evaluation(
    generate: Any,
) -> None:
    gallery, _ = generate()
    gallery.model_version.delete()
    assert evaluation.evaluate_gallery(gallery.pk) == State.FAILED
    gallery.refresh_from_db()
    assert (gallery.evaluation_state, gallery.evaluation) == (State.FAILED, None)
    assert gallery.images.count() == 4


def test_preparing_skips_a_data_set_it_cannot_load() -> None:
    assert evaluation.prepare_evaluation(["digits", "no-such-data-set"]) == ["digits"]


def test_a_broker_down_leaves_the_job_succeeded_and_the_figures_pending(
    owner: User,
    make_model_version: Any,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.GALLERY_EVALUATION = True

    def broker_down(gallery_id: int, *, task_id: str) -> None:
        raise ConnectionError("redis is gone")

    monkeypatch.setattr(dispatch, "evaluate_gallery", broker_down)
    job = generation_job(owner, make_model_version(owner))
    with django_capture_on_commit_callbacks(execute=True):
        runner.run_generation_job(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    gallery = Gallery.objects.get(job=job)
    assert (gallery.evaluation_state, gallery.images.count()) == (State.PENDING, 4)
