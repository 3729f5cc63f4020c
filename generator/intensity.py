"""The intensity curve: the render step that gives samples the pixel intensities of
real images.

A PCA keeps a model's images in a few components, so what comes back from them is
smoother than a real digit: strokes fade into grey edges and the background is
never quite black. The curve is a monotone map of pixel values fitted at training
time by histogram matching: it sends the distribution of the pixels of the
training images' own PCA reconstructions onto the distribution of the training
images' pixels (quantile to quantile). Applied to every sample after the inverse
transform and before the clip, it renders a sample the way the model's PCA would
have to render a real image for it to look real; it uses the training images only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "INTENSITY_KNOTS",
    "apply_intensity_curve",
    "check_intensity_curve",
    "fit_intensity_curve",
]

FloatArray = NDArray[np.float64]

#: Points of a fitted curve: the 0, 1/256, ..., 1 quantiles of both distributions.
INTENSITY_KNOTS = 257


def fit_intensity_curve(
    source: ArrayLike, target: ArrayLike, *, n_knots: int = INTENSITY_KNOTS
) -> FloatArray:
    """The monotone map that sends the values of ``source`` to those of ``target``.

    Parameters
    ----------
    source : array_like of float
        The values to map (the pixels of the PCA reconstructions), any shape.
    target : array_like of float
        The values to match (the pixels of the training images), any shape.
    n_knots : int, default=INTENSITY_KNOTS
        Quantiles matched; at least 2.

    Returns
    -------
    ndarray of shape (2, n_knots)
        Row 0: the quantiles of ``source`` (the curve's inputs); row 1: the same
        quantiles of ``target`` (its outputs). Both non-decreasing.

    Examples
    --------
    >>> source, target = [0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 1.0, 1.0]
    >>> fit_intensity_curve(source, target, n_knots=3).tolist()
    [[0.1, 0.25, 0.4], [0.0, 0.5, 1.0]]
    """
    if n_knots < 2:
        raise ValueError(f"n_knots must be at least 2, got {n_knots}")
    levels = np.linspace(0.0, 1.0, n_knots)
    inputs = np.quantile(np.asarray(source, dtype=np.float64).ravel(), levels)
    outputs = np.quantile(np.asarray(target, dtype=np.float64).ravel(), levels)
    curve: FloatArray = np.stack([inputs, outputs])
    check_intensity_curve(curve)
    return curve


def apply_intensity_curve(curve: FloatArray, pixels: FloatArray) -> FloatArray:
    """``pixels`` mapped through ``curve`` (linear between knots, flat beyond them).

    Examples
    --------
    >>> curve = np.array([[0.2, 0.8], [0.0, 1.0]])
    >>> apply_intensity_curve(curve, np.array([0.0, 0.5, 0.65, 1.2])).round(2).tolist()
    [0.0, 0.5, 0.75, 1.0]
    """
    mapped: FloatArray = np.interp(pixels, curve[0], curve[1])
    return mapped


def check_intensity_curve(curve: object) -> None:
    """Raise ``ValueError`` unless ``curve`` is a finite (2, k >= 2) float array
    whose rows are non-decreasing (a monotone map)."""
    if (
        not isinstance(curve, np.ndarray)
        or curve.dtype != np.float64
        or curve.ndim != 2
        or curve.shape[0] != 2
        or curve.shape[1] < 2
    ):
        raise ValueError(
            "an intensity curve must be a float64 array of shape (2, k>=2)"
        )
    if not np.isfinite(curve).all():
        raise ValueError("an intensity curve must be finite")
    if (np.diff(curve, axis=1) < 0).any():
        raise ValueError("an intensity curve must be non-decreasing")
