"""The training pipeline: load a data set, fit an `ImageGenerator`, measure it.

`train_model` runs the phases of `PHASES` in order (the fit itself is
`generator.model.ImageGenerator.fit`) on a seeded subset of the training images
(`training_subset`); `model_metadata` describes the result for its model file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.datasets import Dataset, load_dataset
from generator.model import ImageGenerator, ProgressCallback
from generator.search import CrossValidationResult, grid_edge
from generator.settings import (
    MAX_TRAINING_CELLS,
    Message,
    SettingsError,
    TrainingSettings,
)

__all__ = [
    "MAX_EVALUATION_SAMPLES",
    "PHASES",
    "TrainingResult",
    "model_metadata",
    "stratified_choice",
    "train_model",
    "training_subset",
]


#: The phases of `train_model`, in order, with the overall progress fraction at
#: which each one starts and ends.
PHASES: dict[str, tuple[float, float]] = {
    "loading": (0.0, 0.05),
    "pca": (0.05, 0.15),
    "search": (0.15, 0.85),
    "fitting": (0.85, 0.9),
    "evaluating": (0.9, 1.0),
}

#: Test images scored for the held-out log-likelihood metric.
MAX_EVALUATION_SAMPLES = 2000


@dataclass(frozen=True)
class TrainingResult:
    """What `train_model` returns.

    Attributes
    ----------
    model : ImageGenerator
    metrics : dict
        JSON-serialisable figures; see `train_model`.
    dataset_name : str
    dataset_digest : str
        SHA-256 hex digest identifying the exact data trained on.
    """

    model: ImageGenerator
    metrics: dict[str, Any]
    dataset_name: str
    dataset_digest: str


def train_model(
    settings: TrainingSettings,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    callback: ProgressCallback | None = None,
) -> TrainingResult:
    """Load the data set, train an `ImageGenerator` and measure it.

    The ``n_train`` training images are a random subset drawn with ``seed``
    (stratified by label for class-conditional models, so every class gets its
    share). ``test_log_likelihood`` is the mean `ImageGenerator.score_samples`
    of up to `MAX_EVALUATION_SAMPLES` seeded test images: for class-conditional
    models the mixture density, not ``p(x | true label)``, because the mixture is
    the density the model samples from.

    Parameters
    ----------
    settings : TrainingSettings
    data_dir : str or os.PathLike, optional
        Where data sets are cached (``generator.datasets.default_data_dir()``).
    callback : callable, optional
        ``callback(phase, fraction)``: ``phase`` runs through the keys of
        `PHASES` in order; ``fraction`` is the overall progress, non-decreasing
        from 0.0 to a final 1.0, reported at each phase's start and after each
        search fold. Whatever it raises cancels training and propagates; nothing
        is written anywhere.

    Returns
    -------
    TrainingResult
        ``metrics`` holds: ``n_train``, ``original_dim``, ``n_components``,
        ``explained_variance`` (fraction of total variance kept),
        ``explained_variance_curve`` (cumulative fraction per component),
        ``bandwidth``, ``bandwidth_grid_edge`` (`generator.search.grid_edge`
        of the search, or None), ``cv`` (None, or ``{"bandwidths",
        "mean_log_likelihood", "fold_log_likelihood", "exact"}``, ``exact``
        telling which bandwidths were computed: the others' figures are upper
        bounds, see `generator.search.search_bandwidth`), ``test_log_likelihood``,
        ``n_test`` (test images scored), ``test_outside_support`` (how many of
        them lie outside every kernel's support, scoring -inf: only compact
        kernels have such), ``seconds`` (per phase) and ``classes`` (a list, or
        None). Infinite log-likelihoods are reported as None, as JSON has no
        infinity.

    Examples
    --------
    >>> from generator.settings import PRESETS
    >>> result = train_model(PRESETS["preview"])
    >>> result.model.sample(4, digit=3, random_state=0).shape
    (4, 8, 8)
    """
    if not isinstance(settings, TrainingSettings):
        raise TypeError(
            "settings must be a TrainingSettings (see generator.settings."
            f"validate_settings), got {type(settings).__name__}"
        )
    report = callback if callback is not None else _ignore_progress
    seconds: dict[str, float] = {}

    def enter(phase: str, within: float = 0.0) -> None:
        start, end = PHASES[phase]
        report(phase, start + within * (end - start))

    started = time.perf_counter()
    enter("loading")
    dataset = load_dataset(settings.dataset, data_dir=data_dir)
    subset = training_subset(dataset, settings)
    features = subset.features("train")
    seconds["loading"] = time.perf_counter() - started

    def fit_progress(phase: str, within: float) -> None:
        # The fit reports its own phases' boundaries; only the interior progress
        # of the search adds information.
        if within == 0.0 or phase == "search":
            enter(phase, within if phase == "search" else 0.0)

    model = ImageGenerator(
        n_components=settings.n_components,
        whiten=settings.whiten,
        kernel=settings.kernel,
        bandwidth=settings.bandwidth,
        bandwidth_grid=settings.bandwidth_grid,
        cv_folds=settings.cv_folds,
        class_conditional=settings.class_conditional,
        pca_scope=settings.pca_scope,
        temperature=settings.temperature,
        match_intensities=settings.match_intensities,
        random_state=settings.seed,
    )
    model.fit(
        features,
        subset.labels_train,
        image_shape=dataset.image_shape,
        callback=fit_progress,
    )
    seconds.update(model.fit_seconds_)
    _check_training_cells(model, features.shape[0])

    started = time.perf_counter()
    enter("evaluating")
    test_images = dataset.images_test
    rng = np.random.default_rng([settings.seed, 2])
    if len(test_images) > MAX_EVALUATION_SAMPLES:
        chosen = np.sort(
            rng.choice(len(test_images), MAX_EVALUATION_SAMPLES, replace=False)
        )
        test_images = test_images[chosen]
    test_features = test_images.reshape(len(test_images), -1).astype(np.float64)
    test_features /= dataset.pixel_max
    test_scores = model.score_samples(test_features)
    seconds["evaluating"] = time.perf_counter() - started
    report("evaluating", 1.0)
    return TrainingResult(
        model=model,
        metrics=_metrics(model, subset, dataset, test_scores, seconds),
        dataset_name=dataset.name,
        dataset_digest=dataset.digest,
    )


def _check_training_cells(model: ImageGenerator, n_train: int) -> None:
    """Per-class variance fractions keep a number of components known only now:
    hold them to the bound validation applies to every other model."""
    if not model.is_per_class:
        return
    n_components = max(pca.n_components_ for pca in model.pcas_)
    if n_components * n_train > MAX_TRAINING_CELLS:
        raise SettingsError(
            {
                "n_components": Message(
                    f"{{0}} kept up to {n_components} components per class: "
                    f"{n_components} x {{1}} {n_train:,} is more than "
                    f"{MAX_TRAINING_CELLS:,}; keep a smaller fraction or train on "
                    f"at most {MAX_TRAINING_CELLS // n_components:,} images",
                    ("n_components", "n_train"),
                )
            }
        )


def model_metadata(
    result: TrainingResult,
    settings: TrainingSettings,
    *,
    code_version: str,
    job: str | None = None,
) -> dict[str, Any]:
    """What a model file records about its training, for `generator.io.save_model`.

    Parameters
    ----------
    result : TrainingResult
        What `train_model` returned for ``settings``.
    settings : TrainingSettings
    code_version : str
        The version of the code that trained the model.
    job : str, optional
        The id of the job that trained it.

    Returns
    -------
    dict
        ``settings`` (`TrainingSettings.to_dict`), ``dataset`` (``{"name",
        "digest"}``), ``metrics``, ``code_version`` and, if given, ``job``.

    Examples
    --------
    >>> from generator.settings import PRESETS
    >>> result = train_model(PRESETS["preview"])
    >>> metadata = model_metadata(result, PRESETS["preview"], code_version="1.0")
    >>> sorted(metadata)
    ['code_version', 'dataset', 'metrics', 'settings']
    """
    metadata: dict[str, Any] = {
        "settings": settings.to_dict(),
        "dataset": {"name": result.dataset_name, "digest": result.dataset_digest},
        "metrics": result.metrics,
        "code_version": code_version,
    }
    if job is not None:
        metadata["job"] = job
    return metadata


def _metrics(
    model: ImageGenerator,
    subset: Dataset,
    dataset: Dataset,
    test_scores: NDArray[np.float64],
    seconds: Mapping[str, float],
) -> dict[str, Any]:
    """The JSON-serialisable figures of `train_model` (listed there)."""
    per_class = _per_class_metrics(model, subset) if model.is_per_class else None
    if per_class is None:
        pca = model.pca_
        n_components = int(pca.n_components_)
        explained = float(np.sum(pca.explained_variance_ratio_))
        curve = np.cumsum(pca.explained_variance_ratio_)
    else:
        assert model.class_priors_ is not None
        n_components = max(row["n_components"] for row in per_class)
        curves = [
            np.pad(
                np.cumsum(pca.explained_variance_ratio_),
                (0, n_components - pca.n_components_),
                mode="edge",
            )
            for pca in model.pcas_
        ]
        curve = model.class_priors_ @ np.stack(curves)
        explained = float(curve[-1])
    cv = model.cv_result_
    return {
        "n_train": int(subset.images_train.shape[0]),
        "original_dim": int(dataset.n_features),
        "pca_scope": model.pca_scope,
        "n_components": n_components,
        "explained_variance": explained,
        "explained_variance_curve": _json_floats(curve),
        "bandwidth": float(model.bandwidth_),
        "bandwidth_grid_edge": None
        if cv is None
        else grid_edge(cv.bandwidths, float(model.bandwidth_)),
        "cv": None
        if cv is None
        else {
            "bandwidths": _json_floats(cv.bandwidths),
            "mean_log_likelihood": _json_floats(cv.mean_log_likelihood),
            "fold_log_likelihood": [
                _json_floats(row) for row in np.atleast_2d(cv.fold_log_likelihood)
            ],
            "exact": [True] * cv.bandwidths.size
            if cv.exact is None
            else [bool(value) for value in cv.exact],
        },
        "per_class": per_class,
        "test_log_likelihood": _json_float(float(np.mean(test_scores))),
        "n_test": int(test_scores.size),
        "test_outside_support": int(np.sum(np.isneginf(test_scores))),
        "seconds": {phase: float(seconds[phase]) for phase in PHASES},
        "classes": None
        if model.classes_ is None
        else [int(label) for label in model.classes_],
    }


def _per_class_metrics(model: ImageGenerator, subset: Dataset) -> list[dict[str, Any]]:
    """One row per class of a per-class model: its images, PCA and bandwidth."""
    assert model.classes_ is not None
    searches: list[CrossValidationResult | None] = [None] * len(model.classes_)
    if model.class_cv_results_ is not None:
        searches = list(model.class_cv_results_)
    rows = []
    for label, pca, kde, search in zip(
        model.classes_, model.pcas_, model.kdes_, searches, strict=True
    ):
        rows.append(
            {
                "class": int(label),
                "n_train": int(np.count_nonzero(subset.labels_train == label)),
                "n_components": int(pca.n_components_),
                "explained_variance": float(np.sum(pca.explained_variance_ratio_)),
                "bandwidth": float(kde.bandwidth_),
                "bandwidth_grid_edge": None
                if search is None
                else grid_edge(search.bandwidths, float(kde.bandwidth_)),
            }
        )
    return rows


def training_subset(dataset: Dataset, settings: TrainingSettings) -> Dataset:
    """The seeded ``n_train`` subset of the training split, in original order.

    Parameters
    ----------
    dataset : Dataset
    settings : TrainingSettings
        ``n_train`` images are drawn with ``seed``; stratified by label (see
        `stratified_choice`) when ``class_conditional``.

    Returns
    -------
    Dataset
        ``dataset`` itself when it holds exactly ``n_train`` training images.
    """
    """The seeded ``n_train`` subset of the training split, in original order."""
    n_available = dataset.images_train.shape[0]
    n_train = settings.n_train
    if n_train > n_available:
        raise ValueError(
            f"n_train ({n_train}) exceeds the {n_available} training images of "
            f"{dataset.name}"
        )
    if n_train == n_available:
        return dataset
    rng = np.random.default_rng([settings.seed, 0])
    if settings.class_conditional:
        chosen = stratified_choice(dataset.labels_train, n_train, rng)
    else:
        chosen = np.sort(rng.choice(n_available, n_train, replace=False))
    return dataclasses.replace(
        dataset,
        images_train=dataset.images_train[chosen],
        labels_train=dataset.labels_train[chosen],
    )


def stratified_choice(
    labels: NDArray[np.int64], n_chosen: int, rng: np.random.Generator
) -> NDArray[np.intp]:
    """Pick ``n_chosen`` indices with each label's share rounded fairly.

    Every label gets at least ``floor(n_chosen * count / total)`` indices (the
    bound `generator.settings.validate_settings` relies on); the remainder goes
    to the largest fractional parts.
    """
    classes, counts = np.unique(labels, return_counts=True)
    exact = n_chosen * counts / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    shortfall = n_chosen - int(quotas.sum())
    # A stable sort keeps ties in label order, so the draw is reproducible.
    by_remainder = np.argsort(-(exact - quotas), kind="stable")
    quotas[by_remainder[:shortfall]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == label), quota, replace=False)
        for label, quota in zip(classes, quotas, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _json_floats(values: ArrayLike) -> list[float | None]:
    return [_json_float(float(value)) for value in np.ravel(values)]


def _ignore_progress(phase: str, fraction: float) -> None:
    """The default progress callback."""
