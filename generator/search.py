"""Exact, fast k-fold cross-validation of a KDE bandwidth over a grid.

Per fold, the held-out-by-training squared distance matrix is built once from a
matrix product, in row blocks of bounded memory spread over every CPU, and each
block serves every bandwidth of the grid (see
``generator.kernel_sums.log_kernel_sums``). Everything is float64; the only terms
ever skipped are provably below 4e-18 of their row's sum, so the held-out
log-likelihoods equal a brute-force computation to float64 rounding.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.kernel_sums import (
    FloatArray,
    IntArray,
    check_kernel,
    log_kernel_normalisation,
    log_kernel_sums,
    n_threads,
    worker_threads,
)
from generator.settings import MAX_GRID_NUM
from generator.validation import RandomState, as_matrix, check_random_state

__all__ = [
    "CrossValidationResult",
    "assign_folds",
    "bandwidth_grid_values",
    "cross_validate_bandwidth",
    "grid_edge",
    "widened_grid",
]


@dataclass(frozen=True)
class CrossValidationResult:
    """Held-out log-likelihood of each bandwidth of a grid.

    Attributes
    ----------
    bandwidths : ndarray of shape (k,)
        The grid, in the order given.
    fold_log_likelihood : ndarray of shape (n_folds, k)
        Mean held-out log-likelihood per sample, per fold.
    mean_log_likelihood : ndarray of shape (k,)
        Its mean over the folds.
    best_bandwidth : float
        The bandwidth with the highest ``mean_log_likelihood`` (the first one on a
        tie; the largest one if every bandwidth leaves some held-out point with
        zero density, which only compact kernels can do).
    """

    bandwidths: FloatArray
    fold_log_likelihood: FloatArray
    mean_log_likelihood: FloatArray
    best_bandwidth: float


def _check_groups(groups: ArrayLike, n_samples: int) -> NDArray[np.generic]:
    labels = np.asarray(groups)
    if labels.shape != (n_samples,):
        raise ValueError(f"groups must have shape ({n_samples},), got {labels.shape}")
    _, counts = np.unique(labels, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            "every group needs at least 2 samples, so that each held-out point "
            "has training points of its own group"
        )
    return labels


def assign_folds(
    n_samples: int,
    n_folds: int,
    *,
    random_state: RandomState = None,
    groups: ArrayLike | None = None,
) -> IntArray:
    """Fold index of each sample: shuffled, and stratified by ``groups`` if given.

    Samples (each group's, when stratified) are shuffled and dealt round-robin, so
    fold sizes differ by at most one and every group is spread evenly.

    Parameters
    ----------
    n_samples : int
    n_folds : int
        2 <= n_folds <= n_samples.
    random_state : int, numpy Generator or None
    groups : array-like of shape (n_samples,), optional
        Class labels; each needs at least 2 samples.

    Returns
    -------
    ndarray of shape (n_samples,)
        Integers in ``[0, n_folds)``.

    Examples
    --------
    >>> import numpy as np
    >>> np.bincount(assign_folds(10, 3, random_state=0)).tolist()
    [4, 3, 3]
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, int | np.integer):
        raise ValueError(f"n_folds must be an int, got {n_folds!r}")
    if not 2 <= n_folds <= n_samples:
        raise ValueError(
            f"n_folds must be between 2 and n_samples={n_samples}, got {n_folds}"
        )
    rng = check_random_state(random_state)
    folds = np.empty(n_samples, dtype=np.intp)
    if groups is None:
        folds[rng.permutation(n_samples)] = np.arange(n_samples) % n_folds
        return folds
    labels = _check_groups(groups, n_samples)
    dealt = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        folds[members] = (dealt + np.arange(members.size)) % n_folds
        dealt += members.size
    return folds


def bandwidth_grid_values(grid: Sequence[float]) -> FloatArray:
    """Expand ``(start, stop, num)`` into ``num`` log-spaced bandwidths.

    Parameters
    ----------
    grid : sequence of (float, float, int)

    Returns
    -------
    ndarray of shape (num,)
        From ``start`` to ``stop`` inclusive.

    Examples
    --------
    >>> bandwidth_grid_values((0.1, 10.0, 3)).tolist()
    [0.1, 1.0, 10.0]
    """
    if len(grid) != 3:
        raise ValueError(f"bandwidth_grid must be (start, stop, num), got {grid!r}")
    start, stop, num = grid
    if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num < 1:
        raise ValueError(f"bandwidth_grid num must be a positive integer, got {num!r}")
    if not (math.isfinite(start) and math.isfinite(stop) and 0 < start <= stop):
        raise ValueError(
            f"bandwidth_grid needs 0 < start <= stop, got start={start}, stop={stop}"
        )
    values: FloatArray = np.logspace(math.log10(start), math.log10(stop), int(num))
    # logspace's round trip through log10 would otherwise miss the end points by
    # an ulp, and users expect to see exactly the numbers they typed.
    values[0] = start
    values[-1] = stop
    return values


def grid_edge(bandwidths: ArrayLike, chosen: float) -> str | None:
    """Whether the chosen bandwidth is an end of the grid searched.

    The best bandwidth may then lie beyond the grid, and a wider one is worth a
    search (see `widened_grid`).

    Parameters
    ----------
    bandwidths : array-like of shape (k,)
        The grid searched.
    chosen : float
        The bandwidth the search picked.

    Returns
    -------
    {"lower", "upper"} or None
        ``"lower"`` for the smallest value of a grid of at least two distinct
        values, ``"upper"`` for the largest, else None.

    Examples
    --------
    >>> grid_edge([0.1, 1.0, 10.0], 0.1), grid_edge([0.1, 1.0, 10.0], 1.0)
    ('lower', None)
    """
    grid = np.asarray(bandwidths, dtype=np.float64)
    if grid.size < 2 or not np.isfinite(grid).all() or grid.min() == grid.max():
        return None
    tolerance = 1e-9 * abs(chosen)
    if abs(chosen - grid.min()) <= tolerance:
        return "lower"
    if abs(chosen - grid.max()) <= tolerance:
        return "upper"
    return None


def widened_grid(grid: Sequence[float], edge: str) -> tuple[float, float, int]:
    """The grid extended by a decade beyond ``edge``, about as finely spaced.

    Parameters
    ----------
    grid : sequence of (float, float, int)
        ``(start, stop, num)`` with ``start < stop`` and ``num >= 2``.
    edge : {"lower", "upper"}
        The end the chosen bandwidth sat on (`grid_edge`).

    Returns
    -------
    (float, float, int)
        At most ``MAX_GRID_NUM`` values.

    Examples
    --------
    >>> widened_grid((0.1, 10.0, 20), "lower")
    (0.01, 10.0, 30)
    >>> widened_grid((0.1, 10.0, 20), "upper")
    (0.1, 100.0, 30)
    """
    start, stop, num = float(grid[0]), float(grid[1]), int(grid[2])
    if edge not in ("lower", "upper") or not 0 < start < stop or num < 2:
        raise ValueError(
            f"cannot widen grid {tuple(grid)!r} at its {edge!r} edge; need "
            "0 < start < stop, num >= 2 and edge 'lower' or 'upper'"
        )
    per_decade = (num - 1) / math.log10(stop / start)
    wider = min(MAX_GRID_NUM, num + max(1, round(per_decade)))
    if edge == "lower":
        return (start / 10.0, stop, wider)
    return (start, stop * 10.0, wider)


def _check_bandwidths(bandwidths: ArrayLike) -> FloatArray:
    grid = np.asarray(bandwidths, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"bandwidths must be a non-empty 1-D array, got {grid.shape}")
    if not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError("bandwidths must be positive and finite")
    return grid


def cross_validate_bandwidth(
    X: ArrayLike,
    bandwidths: ArrayLike,
    *,
    kernel: str = "gaussian",
    n_folds: int = 5,
    random_state: RandomState = None,
    callback: Callable[[int, int], None] | None = None,
    groups: ArrayLike | None = None,
    n_jobs: int | None = None,
) -> CrossValidationResult:
    """Mean held-out log-likelihood per sample of each bandwidth, by k-fold CV.

    Folds come from :func:`assign_folds` (same arguments, same folds). Each held-out
    point is scored by the KDE of its fold's training points, or, with ``groups``,
    of the training points of its own group (a class-conditional KDE).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    bandwidths : array-like of shape (k,)
        Positive bandwidths, any order.
    kernel : str, default="gaussian"
        One of ``generator.kernel_sums.KERNELS``.
    n_folds : int, default=5
    random_state : int, numpy Generator or None
        Shuffles the folds.
    callback : callable, optional
        ``callback(fold_index, n_folds)`` after each fold, ``fold_index`` counting
        from 0 (so ``(fold_index + 1) / n_folds`` of the work is done). An exception
        raised by it propagates and stops the search.
    groups : array-like of shape (n_samples,), optional
        Class labels for a class-conditional search (folds are stratified).
    n_jobs : int, optional
        Threads to use (default: every available CPU).

    Returns
    -------
    CrossValidationResult

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> result = cross_validate_bandwidth(X, [0.05, 0.5, 5.0], random_state=0)
    >>> result.best_bandwidth
    0.5
    """
    check_kernel(kernel)
    data = as_matrix(X)
    n_samples, n_features = data.shape
    if n_features < 1:
        raise ValueError("X must have at least one feature")
    grid = _check_bandwidths(bandwidths)
    folds = assign_folds(n_samples, n_folds, random_state=random_state, groups=groups)
    labels = None if groups is None else np.asarray(groups)
    # Distances are translation invariant; centring shrinks the norms that the
    # ||a||^2 + ||b||^2 - 2 a.b formula loses precision to.
    centred = data - data.mean(axis=0)
    log_norms = np.array(
        [log_kernel_normalisation(kernel, n_features, float(h)) for h in grid]
    )
    fold_log_likelihood = np.empty((n_folds, grid.size))
    workers = n_threads(n_jobs)
    with worker_threads(workers) as executor:
        for fold in range(n_folds):
            held_out = folds == fold
            if labels is None:
                parts = [(held_out, ~held_out)]
            else:
                parts = [
                    (held_out & (labels == label), ~held_out & (labels == label))
                    for label in np.unique(labels[held_out])
                ]
            total = np.zeros(grid.size)
            for queries, points in parts:
                sums = log_kernel_sums(
                    centred[queries],
                    centred[points],
                    grid,
                    kernel,
                    executor=executor,
                    n_workers=workers,
                )
                total += sums.sum(axis=0) - sums.shape[0] * math.log(points.sum())
            fold_log_likelihood[fold] = total / held_out.sum() + log_norms
            if callback is not None:
                callback(fold, n_folds)
    mean_log_likelihood = fold_log_likelihood.mean(axis=0)
    if np.isfinite(mean_log_likelihood).any():
        best = int(np.argmax(mean_log_likelihood))
    else:
        best = int(np.argmax(grid))
    return CrossValidationResult(
        bandwidths=grid,
        fold_log_likelihood=fold_log_likelihood,
        mean_log_likelihood=mean_log_likelihood,
        best_bandwidth=float(grid[best]),
    )
