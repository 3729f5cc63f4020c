"""The kernel-sum engine shared by `generator.kde` and `generator.search`.

``log_kernel_sums`` computes ``log sum_j w_j k(||q_i - p_j|| / h)`` for many queries,
points and bandwidths at once: squared distances come from one matrix product per
row block, blocks run on a thread pool, and each cache-sized chunk of a block
serves every bandwidth, dropping terms that provably cannot matter. It also holds
the kernels' normalisation, so that a sum becomes a density.

The kernels and their d-dimensional normalisation follow
``sklearn.neighbors.KernelDensity`` (``_binary_tree.pxi``: ``compute_log_kernel`` and
``_log_kernel_norm``), with one deliberate exception: scikit-learn's cosine
normalisation is only right in small odd dimensions. Its closed form for
``int_0^1 r**(d-1) cos(pi r / 2) dr`` omits the last term of the recursion when
``d`` is even (the log-density is off by 1.01 for ``d = 2``, ``nan`` for ``d = 4``),
and its alternating terms, of size ``(d-1)! (2/pi)**d``, cancel catastrophically
for larger ``d`` (off by 2.2 at ``d = 21``, ``nan`` from ``d = 31``). Here every
kernel, cosine included, integrates to one in every dimension, so log-likelihoods
of different kernels can be compared.

With ``r = ||x - x_i|| / h``, the unnormalised profiles are::

    gaussian      exp(-r**2 / 2)
    tophat        1                  for r < 1
    epanechnikov  1 - r**2           for r < 1
    exponential   exp(-r)
    linear        1 - r              for r < 1
    cosine        cos(pi * r / 2)    for r < 1
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BLOCK_BYTES",
    "CHUNK_BYTES",
    "COMPACT_FRACTION",
    "KERNELS",
    "MIN_CHUNK_ROWS",
    "NEGLIGIBLE_LOG",
    "REFINE_FRACTION",
    "FloatArray",
    "IntArray",
    "Kernel",
    "Sweep",
    "check_kernel",
    "kernel_base",
    "kernel_terms",
    "log_kernel_normalisation",
    "log_kernel_sums",
    "log_kernel_sums_chunk",
    "n_threads",
    "refine_small_distances",
    "single_threaded_blas",
    "worker_threads",
]

KERNELS: Final = (
    "gaussian",
    "tophat",
    "epanechnikov",
    "exponential",
    "linear",
    "cosine",
)
Kernel: TypeAlias = Literal[
    "gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine"
]

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.intp]

# A term of a Gaussian or exponential kernel sum whose log is more than
# NEGLIGIBLE_LOG + log(n) below the row's largest term is skipped: together the
# skipped terms change the sum by less than exp(-40) ~ 4e-18 relative, far below
# float64 rounding, so the result stays exact to working precision.
NEGLIGIBLE_LOG: Final = 40.0
# Row blocks of the distance matrix are at most this large (one per worker thread).
BLOCK_BYTES: Final = 16 * 2**20
# Inner chunks are sized to stay in a 2 MiB L2 cache with their work buffers:
# every bandwidth reuses the same chunk, so this is what makes the sweep fast.
CHUNK_BYTES: Final = 2**19
# Rows of a chunk whatever its size (see log_kernel_sums).
MIN_CHUNK_ROWS: Final = 8
# Squared distances below this fraction of ||q||^2 + ||p||^2 are recomputed.
REFINE_FRACTION: Final = 2.0**-20
# Below this fraction of relevant entries, a chunk switches to a compressed list.
COMPACT_FRACTION: Final = 0.25


def _log_unit_sphere_area(n_features: int) -> float:
    """Log of the surface area of the unit sphere in ``n_features`` dimensions."""
    return (
        math.log(2.0)
        + 0.5 * n_features * math.log(math.pi)
        - math.lgamma(0.5 * n_features)
    )


def _log_unit_ball_volume(n_features: int) -> float:
    return 0.5 * n_features * math.log(math.pi) - math.lgamma(0.5 * n_features + 1.0)


def _cosine_radial_integral(n_features: int) -> float:
    """``int_0^1 r**(d-1) cos(pi r / 2) dr`` from its power series.

    The series ``sum_k (-1)**k (pi/2)**(2k) / ((2k)! (d + 2k))`` has terms below
    ``cosh(pi/2) / d`` for a sum of order ``1/d**2``: it loses only ``log10(d)``
    digits to cancellation (see the module docstring for scikit-learn's version).
    """
    half_pi_squared = (0.5 * math.pi) ** 2
    terms = []
    coefficient = 1.0  # (pi/2)**(2k) / (2k)!
    for k in range(200):
        terms.append((-1) ** k * coefficient / (n_features + 2 * k))
        coefficient *= half_pi_squared / ((2 * k + 1) * (2 * k + 2))
        if coefficient < 1e-40:
            break
    return math.fsum(terms)


def log_kernel_normalisation(kernel: str, n_features: int, bandwidth: float) -> float:
    """Log of the factor that makes a kernel of a given bandwidth a density.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    n_features : int
        Dimension ``d`` of the space.
    bandwidth : float
        Kernel bandwidth ``h > 0``.

    Returns
    -------
    float
        ``log c`` such that ``c * k(||x|| / h)`` integrates to one over ``R**d``;
        scikit-learn's value, except for cosine (see the module docstring).

    Examples
    --------
    >>> round(log_kernel_normalisation("gaussian", 1, 1.0), 6)  # -log(sqrt(2 pi))
    -0.918939
    """
    check_kernel(kernel)
    d = int(n_features)
    if d < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    if not (math.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be positive and finite, got {bandwidth}")
    if kernel == "gaussian":
        factor = 0.5 * d * math.log(2.0 * math.pi)
    elif kernel == "tophat":
        factor = _log_unit_ball_volume(d)
    elif kernel == "epanechnikov":
        factor = _log_unit_ball_volume(d) + math.log(2.0 / (d + 2.0))
    elif kernel == "exponential":
        factor = _log_unit_sphere_area(d) + math.lgamma(d)
    elif kernel == "linear":
        factor = _log_unit_ball_volume(d) - math.log(d + 1.0)
    else:
        factor = _log_unit_sphere_area(d) + math.log(_cosine_radial_integral(d))
    return -factor - d * math.log(bandwidth)


def check_kernel(kernel: object) -> None:
    """Refuse anything but one of `KERNELS`."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")


def n_threads(n_jobs: int | None = None) -> int:
    """Worker threads to use: ``n_jobs``, or every CPU this process may run on."""
    if n_jobs is not None:
        if n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
        return n_jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block.

    Our row blocks already keep every core busy; OpenBLAS threads on top of them
    oversubscribe the cores and busy-wait between calls, which measured up to
    twice the CPU time for the same wall time. threadpoolctl comes with
    scikit-learn; without it, nothing is limited.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def worker_threads(n_workers: int) -> Iterator[ThreadPoolExecutor | None]:
    """Single-threaded BLAS and, for more than one worker, a thread pool.

    Yields the executor to pass to ``log_kernel_sums`` (``None`` for one worker).
    """
    with single_threaded_blas():
        if n_workers == 1:
            yield None
            return
        with ThreadPoolExecutor(n_workers) as executor:
            yield executor


# ---------------------------------------------------------------------------
# Log of kernel sums for many bandwidths.


def kernel_base(
    squared_distances: FloatArray, kernel: str
) -> tuple[FloatArray, FloatArray | None]:
    """Per-entry quantity each kernel is a function of, and the per-row shift.

    Gaussian works on ``d**2``, exponential on ``d``, both minus the row minimum so
    the largest term of every row is exactly ``exp(0) = 1`` (no overflow, and no
    underflow of the whole row however small the bandwidth). Compact kernels work
    on ``d**2`` (tophat, epanechnikov) or ``d`` (linear, cosine), unshifted.
    Overwrites ``squared_distances``.
    """
    if kernel in ("exponential", "linear", "cosine"):
        np.sqrt(squared_distances, out=squared_distances)
    if kernel in ("gaussian", "exponential"):
        shift = squared_distances.min(axis=1)
        squared_distances -= shift[:, None]
        return squared_distances, shift
    return squared_distances, None


def kernel_terms(
    values: FloatArray, kernel: str, bandwidth: float, out: FloatArray
) -> FloatArray:
    """Kernel terms of ``values`` (see ``kernel_base``), up to a per-kernel constant.

    Compact kernels are clipped to zero outside their support, so a dense chunk
    needs no mask. ``Sweep.log_constants`` restores the constants.
    """
    if kernel == "gaussian":
        np.multiply(values, -0.5 / bandwidth**2, out=out)
        return np.exp(out, out=out)
    if kernel == "exponential":
        np.multiply(values, -1.0 / bandwidth, out=out)
        return np.exp(out, out=out)
    if kernel == "tophat":
        return np.less(values, bandwidth**2, out=out)
    if kernel == "epanechnikov":
        # h**2 - d**2 rather than 1 - d**2/h**2: no cancellation near the edge.
        np.subtract(bandwidth**2, values, out=out)
        return np.maximum(out, 0.0, out=out)
    np.subtract(bandwidth, values, out=out)
    np.maximum(out, 0.0, out=out)
    if kernel == "cosine":
        # cos(pi r / 2h) as sin(pi (h - r) / 2h): accurate near the edge, 0 beyond.
        np.multiply(out, 0.5 * math.pi / bandwidth, out=out)
        np.sin(out, out=out)
    return out


@dataclass(frozen=True)
class Sweep:
    """Per-bandwidth constants of one ``log_kernel_sums`` call, largest first."""

    kernel: str
    bandwidths: list[float]
    # Entries of the base above this contribute nothing (compact kernels) or
    # less than exp(-NEGLIGIBLE_LOG) of the row's sum all together.
    thresholds: list[float]
    # Added to the log of each sum: what kernel_terms leaves out.
    log_constants: FloatArray
    # Times the row shift, subtracted from the log of each sum.
    shift_scales: FloatArray

    @classmethod
    def plan(cls, kernel: str, bandwidths: FloatArray, n_columns: int) -> Sweep:
        h = np.sort(bandwidths)[::-1]
        zeros = np.zeros_like(h)
        log_n = NEGLIGIBLE_LOG + math.log(n_columns)
        if kernel == "gaussian":
            thresholds, constants, scales = 2.0 * h**2 * log_n, zeros, 0.5 / h**2
        elif kernel == "exponential":
            thresholds, constants, scales = h * log_n, zeros, 1.0 / h
        elif kernel in ("tophat", "epanechnikov"):
            constants = -2.0 * np.log(h) if kernel == "epanechnikov" else zeros
            thresholds, scales = h**2, zeros
        else:
            constants = -np.log(h) if kernel == "linear" else zeros
            thresholds, scales = h, zeros
        return cls(kernel, h.tolist(), thresholds.tolist(), constants, scales)


def log_kernel_sums_chunk(
    squared_distances: FloatArray,
    sweep: Sweep,
    weights: FloatArray | None,
    work: FloatArray,
    out: FloatArray,
) -> None:
    """``out[i, k] = log sum_j w_j k(||x_i - y_j|| / h_k)`` for one chunk of rows.

    Bandwidths come largest first. Without weights, terms that cannot matter
    (outside a compact support, or provably negligible, see ``NEGLIGIBLE_LOG``)
    are dropped progressively: as the bandwidth shrinks, the chunk is compressed
    to the shrinking set of entries that still matter. ``weights=None`` means unit
    weights. Expects ``np.errstate(divide="ignore")``: log(0) is a valid -inf.
    """
    n_rows, n_columns = squared_distances.shape
    kernel = sweep.kernel
    base, shift = kernel_base(squared_distances, kernel)
    values: FloatArray = base
    row_of: NDArray[np.signedinteger[Any]] | None = None  # set once compressed
    largest = float(base.max()) if weights is None else math.inf
    # A matrix-vector product sums twice as fast as ndarray.sum here; its
    # rounding error (< n eps relative, all terms >= 0) is still ~1e-12.
    summing_vector = np.ones(n_columns) if weights is None else weights
    for k, (bandwidth, threshold) in enumerate(
        zip(sweep.bandwidths, sweep.thresholds, strict=True)
    ):
        if weights is None and largest > threshold:
            keep = values <= threshold
            if np.count_nonzero(keep) <= COMPACT_FRACTION * values.size:
                # flatnonzero + take: boolean indexing is 5x slower on dense masks.
                kept = np.flatnonzero(keep)
                row_of = kept // n_columns if row_of is None else row_of.take(kept)
                values = values.take(kept)
            largest = threshold
        if row_of is None:
            terms = kernel_terms(values, kernel, bandwidth, work)
            out[:, k] = terms @ summing_vector
        else:
            flat_work = work.reshape(-1)[: values.size]
            terms = kernel_terms(values, kernel, bandwidth, flat_work)
            out[:, k] = np.bincount(row_of, weights=terms, minlength=n_rows)
    np.log(out, out=out)
    out += sweep.log_constants
    if shift is not None:
        out -= shift[:, None] * sweep.shift_scales


def refine_small_distances(
    squared_distances: FloatArray,
    queries: FloatArray,
    points: FloatArray,
    norm_bounds: FloatArray,
) -> None:
    """Recompute, from differences, squared distances too small to trust.

    ``||q||**2 + ||p||**2 - 2 q.p`` carries an absolute error of a few ulps of
    ``||q||**2 + ||p||**2``; entries below ``REFINE_FRACTION`` of that bound (near
    duplicates) would lose most of their digits, which matters once divided by a
    tiny bandwidth or square-rooted (exponential, linear, cosine kernels). Above
    it, the relative error of a squared distance stays below ~1e-9.
    """
    limits = REFINE_FRACTION * norm_bounds
    close = squared_distances < limits[:, None]
    if not close.any():
        return
    rows, columns = np.nonzero(close)
    differences = queries[rows] - points[columns]
    squared_distances[rows, columns] = np.einsum("ij,ij->i", differences, differences)


def log_kernel_sums(
    queries: FloatArray,
    points: FloatArray,
    bandwidths: FloatArray,
    kernel: str,
    *,
    weights: FloatArray | None = None,
    executor: ThreadPoolExecutor | None = None,
    n_workers: int = 1,
) -> FloatArray:
    """``log sum_j w_j k(||q_i - p_j|| / h_k)`` for every query and bandwidth.

    Parameters
    ----------
    queries : ndarray of shape (m, d)
    points : ndarray of shape (n, d)
        Ideally both centred near the origin: squared distances come from
        ``||q||**2 + ||p||**2 - 2 q.p``, whose rounding error grows with the norms.
    bandwidths : ndarray of shape (k,)
        Any order, all positive.
    kernel : str
    weights : ndarray of shape (n,), optional
        Positive weights (unit weights when omitted; then negligible terms are
        skipped, see ``NEGLIGIBLE_LOG``).
    executor : ThreadPoolExecutor, optional
        Row blocks run on it in parallel (numpy releases the GIL in BLAS and ufuncs).
    n_workers : int, default=1
        The executor's number of threads (sets the block size).

    Returns
    -------
    ndarray of shape (m, k)
        Unnormalised: add ``log_kernel_normalisation`` and subtract the log of the
        total weight for a log density. ``-inf`` where no point is in the support.

    Examples
    --------
    >>> import numpy as np
    >>> log_kernel_sums(np.zeros((1, 1)), np.zeros((2, 1)), np.ones(1), "tophat")
    array([[0.69314718]])
    """
    n_queries = queries.shape[0]
    n_points = points.shape[0]
    if n_points == 0:
        raise ValueError("log_kernel_sums needs at least one point")
    order = np.argsort(-bandwidths, kind="stable")
    sweep = Sweep.plan(kernel, bandwidths, n_points)
    out = np.empty((n_queries, bandwidths.size))
    if n_queries == 0:
        return out
    point_norms = np.einsum("ij,ij->i", points, points)
    query_norms = np.einsum("ij,ij->i", queries, queries)
    largest_point_norm = float(point_norms.max())
    # Scaling by -2 is exact, and saves a pass over every block of products.
    minus_twice_queries = -2.0 * queries
    # A few rows at least: with tens of thousands of points a chunk no longer fits
    # the cache anyway, and one-row chunks spend their time in numpy's overheads.
    chunk_rows = max(MIN_CHUNK_ROWS, CHUNK_BYTES // (8 * n_points))
    # Whole chunks per block; at most BLOCK_BYTES, and at least four blocks per
    # worker when there are enough rows, so the workers finish together.
    max_chunks = max(1, BLOCK_BYTES // (8 * n_points * chunk_rows))
    n_chunks = -(-n_queries // chunk_rows)
    block_rows = chunk_rows * max(1, min(max_chunks, n_chunks // (4 * n_workers)))

    starts = iter(range(0, n_queries, block_rows))
    starts_lock = threading.Lock()

    def work_through_blocks() -> None:
        with np.errstate(divide="ignore"):  # log(0) = -inf: no point in reach
            work_through_blocks_quietly()

    def work_through_blocks_quietly() -> None:
        # Buffers are allocated once per worker: fresh multi-megabyte arrays per
        # block would cost more in page faults than the matrix product itself.
        products = np.empty((block_rows, n_points))
        chunk = np.empty((chunk_rows, n_points))
        work = np.empty_like(chunk)
        sums = np.empty((chunk_rows, bandwidths.size))
        while True:
            with starts_lock:
                start = next(starts, None)
            if start is None:
                return
            stop = min(start + block_rows, n_queries)
            block = products[: stop - start]
            np.matmul(minus_twice_queries[start:stop], points.T, out=block)
            for chunk_start in range(start, stop, chunk_rows):
                chunk_stop = min(chunk_start + chunk_rows, stop)
                rows = chunk_stop - chunk_start
                distances = chunk[:rows]
                np.add(
                    block[chunk_start - start : chunk_stop - start],
                    query_norms[chunk_start:chunk_stop, None],
                    out=distances,
                )
                distances += point_norms
                np.maximum(distances, 0.0, out=distances)
                refine_small_distances(
                    distances,
                    queries[chunk_start:chunk_stop],
                    points,
                    query_norms[chunk_start:chunk_stop] + largest_point_norm,
                )
                log_kernel_sums_chunk(
                    distances, sweep, weights, work[:rows], sums[:rows]
                )
                out[chunk_start:chunk_stop, order] = sums[:rows]

    n_tasks = min(n_workers, -(-n_queries // block_rows))
    if executor is None or n_tasks == 1:
        work_through_blocks()
    else:
        futures = [executor.submit(work_through_blocks) for _ in range(n_tasks)]
        for future in futures:
            future.result()
    return out
