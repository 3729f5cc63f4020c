"""The ``model`` object of a model file's metadata: an `ImageGenerator`'s
hyperparameters and fitted scalars, written by `describe_model` and read back,
checked field by field, by `ModelDescription` (see `generator.io`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from generator.kernel_sums import KERNELS
from generator.model import ImageGenerator
from generator.settings import BANDWIDTH_RULES, PCA_SCOPES

__all__ = ["ModelDescription", "describe_model"]


def describe_model(model: ImageGenerator) -> dict[str, Any]:
    """The JSON ``model`` object of a fitted model's file.

    Parameters
    ----------
    model : ImageGenerator
        Fitted.

    Returns
    -------
    dict
        The hyperparameters (``n_components`` ... ``random_state``), and the
        fitted ``image_shape``, ``bandwidth_``, ``pca_total_variance``,
        ``pca_n_samples`` (lists, one per class, for the per-class scope),
        ``cv_best_bandwidth`` and ``fit_seconds``.
    """
    n_components = model.n_components
    requested_components: int | float = (
        int(n_components)
        if isinstance(n_components, numbers.Integral)
        else float(n_components)
    )
    bandwidth = model.bandwidth
    grid = model.bandwidth_grid
    random_state = model.random_state
    cv = model.cv_result_
    return {
        "n_components": requested_components,
        "whiten": bool(model.whiten),
        "kernel": str(model.kernel),
        "bandwidth": bandwidth if isinstance(bandwidth, str) else float(bandwidth),
        "bandwidth_grid": [float(grid[0]), float(grid[1]), int(grid[2])],
        "cv_folds": int(model.cv_folds),
        "class_conditional": bool(model.class_conditional),
        "pca_scope": str(model.pca_scope),
        "temperature": float(model.temperature),
        "match_intensities": bool(model.match_intensities),
        # A Generator has no portable JSON form; the fitted state does not need it.
        "random_state": (
            int(random_state) if isinstance(random_state, numbers.Integral) else None
        ),
        "image_shape": [int(side) for side in model.image_shape_],
        "bandwidth_": float(model.bandwidth_),
        # One figure per PCA (a list) for the per-class scope.
        "pca_total_variance": _one_or_list(
            [float(pca.total_variance_) for pca in model.pcas_], model
        ),
        "pca_n_samples": _one_or_list(
            [int(pca.n_samples_) for pca in model.pcas_], model
        ),
        "cv_best_bandwidth": None if cv is None else float(cv.best_bandwidth),
        "fit_seconds": {k: float(v) for k, v in model.fit_seconds_.items()},
    }


def _one_or_list(values: list[Any], model: ImageGenerator) -> Any:
    return values if model.is_per_class else values[0]


class ModelDescription:
    """The ``model`` object of a model file's metadata, type-checked field by field.

    Parameters
    ----------
    data : Mapping
        As `describe_model` wrote it.

    Raises
    ------
    ValueError
        A field is missing or has a wrong type or value; the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(size=(30, 4))
    >>> model = ImageGenerator(n_components=2, bandwidth=0.1).fit(X, image_shape=(2, 2))
    >>> ModelDescription(describe_model(model)).hyperparameters()["bandwidth"]
    0.1
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        n_components = self._get("n_components")
        if _is_int(n_components) and n_components >= 1:
            self.n_components: int | float = int(n_components)
        elif _is_real(n_components) and 0 < n_components < 1:
            self.n_components = float(n_components)
        else:
            raise self._invalid("n_components")
        self.whiten = self._bool("whiten")
        self.class_conditional = self._bool("class_conditional")
        # Files written before the per-class scope and the stored temperature.
        self.pca_scope: str = data.get("pca_scope", "shared")
        if self.pca_scope not in PCA_SCOPES or (
            self.pca_scope == "per_class" and not self.class_conditional
        ):
            raise self._invalid("pca_scope")
        temperature = data.get("temperature", 1.0)
        if not (_is_real(temperature) and temperature > 0):
            raise self._invalid("temperature")
        self.temperature = float(temperature)
        # Files written before the intensity curve.
        self.match_intensities = data.get("match_intensities", False)
        if not isinstance(self.match_intensities, bool):
            raise self._invalid("match_intensities")
        kernel = self._get("kernel")
        if kernel not in KERNELS:
            raise self._invalid("kernel")
        self.kernel: str = kernel
        bandwidth = self._get("bandwidth")
        if isinstance(bandwidth, str) and bandwidth in BANDWIDTH_RULES:
            self.bandwidth: float | str = bandwidth
        elif _is_real(bandwidth) and bandwidth > 0:
            self.bandwidth = float(bandwidth)
        else:
            raise self._invalid("bandwidth")
        grid = self._get("bandwidth_grid")
        if not (
            isinstance(grid, list)
            and len(grid) == 3
            and _is_real(grid[0])
            and _is_real(grid[1])
            and _is_int(grid[2])
            and 0 < grid[0] <= grid[1]
            and grid[2] >= 1
        ):
            raise self._invalid("bandwidth_grid")
        self.bandwidth_grid = (float(grid[0]), float(grid[1]), int(grid[2]))
        cv_folds = self._get("cv_folds")
        if not (_is_int(cv_folds) and cv_folds >= 2):
            raise self._invalid("cv_folds")
        self.cv_folds: int = cv_folds
        random_state = self._get("random_state")
        if not (random_state is None or (_is_int(random_state) and random_state >= 0)):
            raise self._invalid("random_state")
        self.random_state: int | None = random_state
        shape = self._get("image_shape")
        if not (
            isinstance(shape, list)
            and len(shape) == 2
            and all(_is_int(side) and side >= 1 for side in shape)
        ):
            raise self._invalid("image_shape")
        self.image_shape: tuple[int, int] = (shape[0], shape[1])
        self.fitted_bandwidth = self._positive("bandwidth_")
        total = self._per_pca("pca_total_variance")
        if not all(_is_real(value) and value >= 0 for value in total):
            raise self._invalid("pca_total_variance")
        self.total_variances = tuple(float(value) for value in total)
        n_samples = self._per_pca("pca_n_samples")
        if not all(_is_int(value) for value in n_samples):
            raise self._invalid("pca_n_samples")
        self.pca_n_samples: tuple[int, ...] = tuple(n_samples)
        best = self._get("cv_best_bandwidth")
        if best is not None and not (_is_real(best) and best > 0):
            raise self._invalid("cv_best_bandwidth")
        self.cv_best_bandwidth: float | None = None if best is None else float(best)
        seconds = self._get("fit_seconds")
        if not (
            isinstance(seconds, dict)
            and all(isinstance(key, str) and _is_real(v) for key, v in seconds.items())
        ):
            raise self._invalid("fit_seconds")
        self.fit_seconds = {key: float(value) for key, value in seconds.items()}

    def _per_pca(self, key: str) -> list[Any]:
        """A per-PCA figure: one value, or a non-empty list for per-class scope."""
        value = self._get(key)
        if self.pca_scope == "shared":
            return [value]
        if not (isinstance(value, list) and value):
            raise self._invalid(key)
        return value

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise ValueError(f"model file metadata lacks model.{key}")
        return self._data[key]

    def _bool(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._invalid(key)
        return value

    def _positive(self, key: str, *, allow_zero: bool = False) -> float:
        value = self._get(key)
        if not _is_real(value) or value < 0 or (value == 0 and not allow_zero):
            raise self._invalid(key)
        return float(value)

    def hyperparameters(self) -> dict[str, Any]:
        """The keyword arguments of ``ImageGenerator(...)``."""
        return {
            "n_components": self.n_components,
            "whiten": self.whiten,
            "kernel": self.kernel,
            "bandwidth": self.bandwidth,
            "bandwidth_grid": self.bandwidth_grid,
            "cv_folds": self.cv_folds,
            "class_conditional": self.class_conditional,
            "pca_scope": self.pca_scope,
            "temperature": self.temperature,
            "match_intensities": self.match_intensities,
            "random_state": self.random_state,
        }

    def _invalid(self, key: str) -> ValueError:
        return ValueError(
            f"model file metadata has an invalid model.{key}: {self._data[key]!r}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
