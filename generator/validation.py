"""Argument checks of the estimators (`generator.kde`, `generator.search`,
`generator.model`): each refuses bad input with a ``ValueError``."""

from __future__ import annotations

import math
import numbers
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.settings import BANDWIDTH_RULES

__all__ = [
    "RandomState",
    "as_matrix",
    "check_bandwidth",
    "check_image_shape",
    "check_labels",
    "check_random_state",
]

RandomState: TypeAlias = int | np.random.Generator | None


def as_matrix(X: ArrayLike, name: str = "X") -> NDArray[np.float64]:
    """``X`` as a C-contiguous finite float64 matrix, or a ``ValueError``."""
    array = np.asarray(X)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {array.shape}"
        )
    result = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(result).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return result


def check_random_state(random_state: RandomState) -> np.random.Generator:
    """``np.random.default_rng`` that refuses anything but an int, Generator or None."""
    if isinstance(random_state, bool) or not (
        random_state is None
        or isinstance(random_state, int | np.integer | np.random.Generator)
    ):
        raise ValueError(
            "random_state must be an int, a numpy Generator or None, "
            f"got {random_state!r}"
        )
    return np.random.default_rng(random_state)


def check_image_shape(image_shape: object, n_features: int) -> tuple[int, int]:
    """``image_shape`` as ``(height, width)``, matching ``n_features`` pixels."""
    if (
        not isinstance(image_shape, tuple | list)
        or len(image_shape) != 2
        or not all(
            isinstance(side, numbers.Integral)
            and not isinstance(side, bool)
            and int(side) > 0
            for side in image_shape
        )
    ):
        raise ValueError(
            f"image_shape must be (height, width) positive integers, "
            f"got {image_shape!r}"
        )
    height, width = int(image_shape[0]), int(image_shape[1])
    if height * width != n_features:
        raise ValueError(
            f"image_shape {height}x{width} does not match the {n_features} "
            "features of X"
        )
    return (height, width)


def check_bandwidth(bandwidth: object) -> None:
    """Refuse anything but a positive finite number or one of ``BANDWIDTH_RULES``."""
    if isinstance(bandwidth, str):
        if bandwidth in BANDWIDTH_RULES:
            return
    elif (
        isinstance(bandwidth, numbers.Real)
        and not isinstance(bandwidth, bool)
        and math.isfinite(bandwidth)
        and float(bandwidth) > 0
    ):
        return
    raise ValueError(
        "bandwidth must be a positive number or one of "
        f"{', '.join(BANDWIDTH_RULES)}, got {bandwidth!r}"
    )


def check_labels(y: ArrayLike | None, n_samples: int) -> NDArray[np.int64]:
    """``y`` as int64 labels, one per sample; refused when missing."""
    if y is None:
        raise ValueError("a class-conditional model needs labels y")
    labels = np.asarray(y)
    if labels.shape != (n_samples,):
        raise ValueError(
            f"y must have shape ({n_samples},) to match X, got {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer labels, got dtype {labels.dtype}")
    return labels.astype(np.int64)
