from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from generator.datasets import (
    FASHION_MNIST_SHA256,
    Dataset,
    dataset_digest,
    load_dataset,
)
from generator.datasets.sources import FASHION_MNIST_SYSTEM_DIR
from generator.settings import PRESETS, validate_settings
from generator.training import PHASES, model_metadata, stratified_choice, train_model

SHAPE = (8, 8)


def test_stratified_choice_gives_every_class_its_floor_share() -> None:
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    chosen = stratified_choice(labels, 37, np.random.default_rng(0))
    assert len(chosen) == len(np.unique(chosen)) == 37
    counts = np.bincount(labels[chosen], minlength=4)
    assert (counts >= np.floor(37 * np.array([50, 30, 15, 5]) / 100)).all()
    assert counts.sum() == 37


METRIC_KEYS = {
    "n_train",
    "original_dim",
    "pca_scope",
    "per_class",
    "n_components",
    "explained_variance",
    "explained_variance_curve",
    "bandwidth",
    "bandwidth_grid_edge",
    "cv",
    "test_log_likelihood",
    "n_test",
    "test_outside_support",
    "seconds",
    "classes",
}


def only_builtin_types(value: object) -> bool:
    if isinstance(value, dict):
        return all(
            type(key) is str and only_builtin_types(item) for key, item in value.items()
        )
    if isinstance(value, list):
        return all(only_builtin_types(item) for item in value)
    return value is None or type(value) in (int, float, str, bool)


def test_preview_training_reports_progress_and_metrics() -> None:
    calls: list[tuple[str, float]] = []
    result = train_model(PRESETS["preview"], callback=lambda *call: calls.append(call))

    phases = [phase for phase, _ in calls]
    order = list(PHASES)
    assert [order.index(phase) for phase in phases] == sorted(
        order.index(phase) for phase in phases
    )
    assert list(dict.fromkeys(phases)) == order
    fractions = [fraction for _, fraction in calls]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert sum(phase == "search" for phase in phases) >= PRESETS["preview"].cv_folds

    metrics = result.metrics
    assert set(metrics) == METRIC_KEYS
    assert only_builtin_types(metrics)
    json.dumps(metrics, allow_nan=False)
    assert metrics["n_train"] == PRESETS["preview"].n_train
    assert metrics["original_dim"] == 64
    assert metrics["n_components"] == 20
    curve = metrics["explained_variance_curve"]
    assert len(curve) == 20
    assert curve == sorted(curve)
    assert curve[-1] == pytest.approx(metrics["explained_variance"])
    assert set(metrics["seconds"]) == set(PHASES)
    assert metrics["classes"] == list(range(10))
    cv = metrics["cv"]
    assert len(cv["bandwidths"]) == len(cv["mean_log_likelihood"]) == 10
    assert len(cv["fold_log_likelihood"]) == 3
    assert (
        metrics["bandwidth"]
        == cv["bandwidths"][int(np.argmax(cv["mean_log_likelihood"]))]
    )
    assert np.isfinite(metrics["test_log_likelihood"])
    assert (metrics["n_test"], metrics["test_outside_support"]) == (359, 0)
    assert metrics["bandwidth_grid_edge"] is None
    assert result.dataset_name == "digits"
    assert result.dataset_digest == load_dataset("digits").digest
    assert result.model.sample(2, digit=7, random_state=0).shape == (2, *SHAPE)


def test_test_log_likelihood_is_the_mixture_density_of_test_images(
    digits: Dataset,
) -> None:
    result = train_model(PRESETS["preview"])
    expected = result.model.score_samples(digits.features("test")).mean()
    assert result.metrics["test_log_likelihood"] == pytest.approx(expected, rel=1e-12)


def test_training_is_reproducible() -> None:
    settings = validate_settings(
        {"n_train": 500, "class_conditional": False, "n_components": 8},
        preset="preview",
    )
    first = train_model(settings)
    second = train_model(settings)
    for result in (first, second):
        result.metrics.pop("seconds")
    assert first.metrics == second.metrics
    assert first.metrics["n_train"] == 500
    assert np.array_equal(
        first.model.sample(20, random_state=1), second.model.sample(20, random_state=1)
    )
    other = train_model(dataclasses.replace(settings, seed=1))
    assert not np.array_equal(other.model.kdes_[0].X_, first.model.kdes_[0].X_)


def test_a_raising_callback_cancels_training() -> None:
    calls: list[str] = []

    class Cancelled(Exception):
        pass

    def cancel_in_search(phase: str, fraction: float) -> None:
        calls.append(phase)
        if phase == "search":
            raise Cancelled

    with pytest.raises(Cancelled):
        train_model(PRESETS["preview"], callback=cancel_in_search)
    assert calls == ["loading", "pca", "search"]


def test_training_without_search_still_reports_every_phase() -> None:
    calls: list[str] = []
    settings = validate_settings({"bandwidth": "scott"}, preset="preview")
    result = train_model(settings, callback=lambda phase, _: calls.append(phase))
    assert list(dict.fromkeys(calls)) == list(PHASES)
    assert result.metrics["cv"] is None


def test_smallest_allowed_class_conditional_subset_trains() -> None:
    # validate_settings' bound must be enough for the per-class search.
    with pytest.raises(ValueError, match="n_train"):
        validate_settings(
            {"n_train": 10, "n_components": 2, "cv_folds": 2}, preset="preview"
        )
    settings = validate_settings(
        {"n_train": 21, "n_components": 2, "cv_folds": 2}, preset="preview"
    )
    result = train_model(settings)
    assert result.metrics["n_train"] == 21
    assert result.metrics["classes"] == list(range(10))


def test_model_metadata_names_settings_data_metrics_code_and_job() -> None:
    settings = PRESETS["preview"]
    result = train_model(settings)

    metadata = model_metadata(result, settings, code_version="9.9", job="job-1")

    assert metadata == {
        "settings": settings.to_dict(),
        "dataset": {"name": "digits", "digest": load_dataset("digits").digest},
        "metrics": result.metrics,
        "code_version": "9.9",
        "job": "job-1",
    }
    assert "job" not in model_metadata(result, settings, code_version="9.9")


def test_compact_kernels_count_the_test_images_outside_their_support(
    digits: Dataset,
) -> None:
    settings = validate_settings(
        {"kernel": "tophat", "bandwidth": 0.5, "n_components": 10}, preset="preview"
    )
    result = train_model(settings)
    scores = result.model.score_samples(digits.features("test"))
    outside = int(np.sum(np.isneginf(scores)))
    assert 0 < outside < len(scores)
    assert result.metrics["test_log_likelihood"] is None
    assert result.metrics["test_outside_support"] == outside
    assert result.metrics["n_test"] == len(scores)


@pytest.mark.parametrize(
    ("grid", "edge"), [((2.0, 10.0, 3), "lower"), ((0.001, 0.01, 3), "upper")]
)
def test_a_bandwidth_at_the_edge_of_its_grid_is_flagged(
    grid: tuple[float, float, int], edge: str
) -> None:
    settings = validate_settings({"bandwidth_grid": list(grid)}, preset="preview")
    metrics = train_model(settings).metrics
    assert metrics["bandwidth_grid_edge"] == edge
    assert metrics["bandwidth"] == (grid[0] if edge == "lower" else grid[1])


@pytest.mark.skipif(
    not FASHION_MNIST_SYSTEM_DIR.is_dir(),
    reason=f"Debian's dataset-fashion-mnist is not installed "
    f"({FASHION_MNIST_SYSTEM_DIR})",
)
def test_trains_on_debians_fashion_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    settings = validate_settings(
        {
            "dataset": "fashion-mnist",
            "n_components": 20,
            "bandwidth": 1.0,
            "n_train": 2000,
            "class_conditional": True,
        }
    )
    result = train_model(settings, data_dir=tmp_path)
    assert result.dataset_name == "fashion-mnist"
    assert result.dataset_digest == dataset_digest(FASHION_MNIST_SHA256)
    assert (tmp_path / "fashion-mnist.npz").is_file()
    assert result.metrics["original_dim"] == 784
    assert result.metrics["n_train"] == 2000
    assert np.isfinite(result.metrics["test_log_likelihood"])
    assert result.model.sample(3, digit=9, random_state=0).shape == (3, 28, 28)


def test_a_per_class_fraction_beyond_the_training_bound_fails_after_the_pca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from generator import training
    from generator.settings import SettingsError

    settings = validate_settings(
        {"pca_scope": "per_class", "n_components": 0.9, "bandwidth": 0.5},
        preset="preview",
    )
    trained = train_model(settings)
    widest = max(pca.n_components_ for pca in trained.model.pcas_)
    monkeypatch.setattr(training, "MAX_TRAINING_CELLS", widest * settings.n_train - 1)
    with pytest.raises(SettingsError) as caught:
        train_model(settings)
    assert list(caught.value.errors) == ["n_components"]
    assert f"kept up to {widest} components per class" in str(caught.value)


def test_per_class_metrics_list_every_class() -> None:
    settings = validate_settings({"pca_scope": "per_class"}, preset="preview")
    metrics = train_model(settings).metrics
    assert metrics["pca_scope"] == "per_class"
    rows = metrics["per_class"]
    assert [row["class"] for row in rows] == list(range(10))
    assert sum(row["n_train"] for row in rows) == metrics["n_train"]
    assert metrics["n_components"] == max(row["n_components"] for row in rows)
    assert metrics["cv"] is None
    assert all(0 < row["explained_variance"] <= 1 for row in rows)
    assert all(row["bandwidth"] > 0 for row in rows)
    assert len(metrics["explained_variance_curve"]) == metrics["n_components"]
