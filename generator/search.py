"""Exact, fast k-fold cross-validation of a KDE bandwidth over a grid.

Per fold, the held-out-by-training squared distance matrix is built once from a
matrix product, in row blocks of bounded memory spread over every CPU, and each
block serves every bandwidth of the grid (see
``generator.kernel_sums.log_kernel_sums``). Everything is float64; the only terms
ever skipped are provably below 4e-18 of their row's sum, so the held-out
log-likelihoods equal a brute-force computation to float64 rounding.

`cross_validate_bandwidth` computes every bandwidth of the grid that way.
`search_bandwidth` finds the same best bandwidth, with the same float64 score,
without computing the wide bandwidths that provably lose (see its docstring):
they are the expensive ones, as every training point is within their reach.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    "search_bandwidth",
    "widened_grid",
]

#: Kernels whose held-out log-likelihood `search_bandwidth` can bound without
#: computing it: ``exp(-s * t)`` profiles, convex in the precision ``s``.
CONVEX_KERNELS = ("gaussian", "exponential")
#: Held-out points of the first fold that `search_bandwidth` scores first, to
#: guess where the best bandwidth lies (a guess: it never changes the result).
PILOT_QUERIES = 256
#: Relative slack on the convexity bound, far above float64 rounding of the sums.
BOUND_SLACK = 1e-9


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
    exact : ndarray of bool of shape (k,) or None
        Which bandwidths were computed; the others' figures are upper bounds
        (see `search_bandwidth`). None: all of them were.
    """

    bandwidths: FloatArray
    fold_log_likelihood: FloatArray
    mean_log_likelihood: FloatArray
    best_bandwidth: float
    exact: NDArray[np.bool_] | None = None


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
    problem = _SearchProblem.build(X, bandwidths, kernel, n_folds, random_state, groups)
    workers = n_threads(n_jobs)
    with worker_threads(workers) as executor:
        fold_log_likelihood = problem.fold_log_likelihoods(
            np.arange(problem.grid.size), executor, workers, callback
        )
    return problem.result(fold_log_likelihood, None)


def search_bandwidth(
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
    """The best bandwidth of `cross_validate_bandwidth`, computing fewer bandwidths.

    Same arguments, same folds, same ``best_bandwidth``, and the same float64
    held-out log-likelihood for it and for every bandwidth computed. For the
    gaussian and exponential kernels, the wide bandwidths that provably lose are
    left out (their figures are upper bounds, flagged in ``exact``):

    With ``k(r) = exp(-s t)``, ``s = 1 / 2h**2`` and ``t = ||x - x_j||**2``
    (gaussian) or ``s = 1 / h`` and ``t = ||x - x_j||`` (exponential), a fold's
    mean held-out ``psi(s) = mean_i log mean_j exp(-s t_ij)`` is a sum of
    log-sum-exps of functions linear in ``s``, so it is convex, and ``psi(0) =
    0``. Below a computed ``s1`` the chord is an upper bound: ``psi(s) <= (s /
    s1) psi(s1)``, and the log-likelihood is ``psi(s)`` plus the kernel's known
    normalisation. Bandwidths are computed from the narrowest up (narrow ones are
    cheap: few training points are within their reach), until every wider one's
    bound is below the best score computed. Where to stop first is guessed from
    `PILOT_QUERIES` held-out points; a wrong guess only costs more passes.
    Other kernels: every bandwidth is computed.

    Parameters and Returns: as `cross_validate_bandwidth`; ``callback`` follows
    the folds of the first pass.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> result = search_bandwidth(X, [0.05, 0.5, 5.0, 50.0, 500.0], random_state=0)
    >>> result.best_bandwidth, result.exact.tolist()
    (0.5, [True, True, True, False, False])
    """
    if kernel not in CONVEX_KERNELS:
        return cross_validate_bandwidth(
            X,
            bandwidths,
            kernel=kernel,
            n_folds=n_folds,
            random_state=random_state,
            callback=callback,
            groups=groups,
            n_jobs=n_jobs,
        )
    problem = _SearchProblem.build(X, bandwidths, kernel, n_folds, random_state, groups)
    grid = problem.grid
    precision = 0.5 / grid**2 if kernel == "gaussian" else 1.0 / grid
    narrowest_first = np.argsort(grid, kind="stable")
    fold_log_likelihood = np.empty((n_folds, grid.size))
    exact = np.zeros(grid.size, dtype=bool)
    workers = n_threads(n_jobs)
    with worker_threads(workers) as executor:
        pilot = problem.pilot_log_likelihood(executor, workers)
        # The pilot's best, and one more grid step for the chord to fall from.
        n_computed = 2 + int(np.argmax(pilot[narrowest_first]))
        while True:
            wanted = narrowest_first[:n_computed]
            computing = wanted[~exact[wanted]]
            fold_log_likelihood[:, computing] = problem.fold_log_likelihoods(
                computing, executor, workers, callback
            )
            callback = None
            exact[computing] = True
            if n_computed >= grid.size:
                break
            widest = wanted[-1]
            psi = fold_log_likelihood[:, widest] - problem.log_norms[widest]
            rest = narrowest_first[n_computed:]
            fold_log_likelihood[:, rest] = (
                np.outer(psi, precision[rest] / precision[widest])
                + problem.log_norms[rest]
            )
            best = fold_log_likelihood[:, exact].mean(axis=0).max()
            bounds = fold_log_likelihood[:, rest].mean(axis=0)
            contenders = np.flatnonzero(
                bounds >= best - BOUND_SLACK * (abs(best) + 1.0)
            )
            if contenders.size == 0:
                break
            # A chord from far below the best is loose: grow step by step.
            n_computed += min(1 + int(contenders.max()), max(2, n_computed // 2))
    return problem.result(fold_log_likelihood, None if exact.all() else exact)


@dataclass(frozen=True)
class _SearchProblem:
    """A search's data, centred, with its folds and the kernel's normalisation."""

    centred: FloatArray
    grid: FloatArray
    kernel: str
    folds: IntArray
    labels: NDArray[np.generic] | None
    log_norms: FloatArray

    @classmethod
    def build(
        cls,
        X: ArrayLike,
        bandwidths: ArrayLike,
        kernel: str,
        n_folds: int,
        random_state: RandomState,
        groups: ArrayLike | None,
    ) -> _SearchProblem:
        check_kernel(kernel)
        data = as_matrix(X)
        n_samples, n_features = data.shape
        if n_features < 1:
            raise ValueError("X must have at least one feature")
        grid = _check_bandwidths(bandwidths)
        folds = assign_folds(
            n_samples, n_folds, random_state=random_state, groups=groups
        )
        log_norms = np.array(
            [log_kernel_normalisation(kernel, n_features, float(h)) for h in grid]
        )
        return cls(
            # Distances are translation invariant; centring shrinks the norms
            # that the ||a||^2 + ||b||^2 - 2 a.b formula loses precision to.
            centred=data - data.mean(axis=0),
            grid=grid,
            kernel=kernel,
            folds=folds,
            labels=None if groups is None else np.asarray(groups),
            log_norms=log_norms,
        )

    def held_out_log_likelihood(
        self,
        held_out: NDArray[np.bool_],
        training: NDArray[np.bool_],
        columns: IntArray,
        executor: ThreadPoolExecutor | None,
        workers: int,
    ) -> FloatArray:
        """Mean log-likelihood of the ``held_out`` points under the ``training``
        points' KDE (of their own class, with labels), for ``grid[columns]``."""
        if self.labels is None:
            parts = [(held_out, training)]
        else:
            parts = [
                (held_out & (self.labels == label), training & (self.labels == label))
                for label in np.unique(self.labels[held_out])
            ]
        total = np.zeros(columns.size)
        for queries, points in parts:
            sums = log_kernel_sums(
                self.centred[queries],
                self.centred[points],
                self.grid[columns],
                self.kernel,
                executor=executor,
                n_workers=workers,
            )
            total += sums.sum(axis=0) - sums.shape[0] * math.log(points.sum())
        mean: FloatArray = total / held_out.sum() + self.log_norms[columns]
        return mean

    def fold_log_likelihoods(
        self,
        columns: IntArray,
        executor: ThreadPoolExecutor | None,
        workers: int,
        callback: Callable[[int, int], None] | None,
    ) -> FloatArray:
        """Per fold, the held-out log-likelihood of ``grid[columns]``."""
        n_folds = int(self.folds.max()) + 1
        result = np.empty((n_folds, columns.size))
        for fold in range(n_folds):
            held_out = self.folds == fold
            result[fold] = self.held_out_log_likelihood(
                held_out, ~held_out, columns, executor, workers
            )
            if callback is not None:
                callback(fold, n_folds)
        return result

    def pilot_log_likelihood(
        self, executor: ThreadPoolExecutor | None, workers: int
    ) -> FloatArray:
        """The first fold's curve on up to `PILOT_QUERIES` of its held-out points."""
        held_out = self.folds == 0
        pilot = np.zeros_like(held_out)
        # Evenly spread: the folds are shuffled already.
        members = np.flatnonzero(held_out)
        pilot[members[:: max(1, members.size // PILOT_QUERIES)]] = True
        return self.held_out_log_likelihood(
            pilot, ~held_out, np.arange(self.grid.size), executor, workers
        )

    def result(
        self, fold_log_likelihood: FloatArray, exact: NDArray[np.bool_] | None
    ) -> CrossValidationResult:
        mean_log_likelihood = fold_log_likelihood.mean(axis=0)
        if np.isfinite(mean_log_likelihood).any():
            best = int(np.argmax(mean_log_likelihood))
        else:
            best = int(np.argmax(self.grid))
        return CrossValidationResult(
            bandwidths=self.grid,
            fold_log_likelihood=fold_log_likelihood,
            mean_log_likelihood=mean_log_likelihood,
            best_bandwidth=float(self.grid[best]),
            exact=exact,
        )
