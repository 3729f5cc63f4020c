from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from generator import kernel_sums, search
from generator.kernel_sums import KERNELS, log_kernel_normalisation
from generator.search import (
    CrossValidationResult,
    assign_folds,
    bandwidth_grid_values,
    cross_validate_bandwidth,
    grid_edge,
    search_bandwidth,
    widened_grid,
)
from tests.generator.kde_reference import log_profile

GRID = (0.02, 0.1, 0.3, 0.9, 2.7, 8.0)


def brute_force_fold_log_likelihood(
    X: np.ndarray,
    bandwidths: np.ndarray,
    kernel: str,
    folds: np.ndarray,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Per fold, the mean over held-out points of log p(x), one point at a time."""
    labels = np.zeros(len(X)) if groups is None else groups
    d = X.shape[1]
    result = np.empty((folds.max() + 1, len(bandwidths)))
    for fold in range(folds.max() + 1):
        held_out = np.flatnonzero(folds == fold)
        per_point = np.empty((held_out.size, len(bandwidths)))
        for row, i in enumerate(held_out):
            train = X[(folds != fold) & (labels == labels[i])]
            distances = np.sqrt(((train - X[i]) ** 2).sum(axis=1))
            for k, h in enumerate(bandwidths):
                per_point[row, k] = (
                    special.logsumexp(log_profile(kernel, distances / h))
                    - math.log(len(train))
                    + log_kernel_normalisation(kernel, d, h)
                )
        result[fold] = per_point.mean(axis=0)
    return result


def mixture(
    seed: int, n: int = 90, d: int = 3, offset: float = 50.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = rng.normal(scale=3.0, size=(3, d)) + offset
    return centres[labels] + rng.normal(size=(n, d)), labels


def assert_same_log_likelihoods(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(actual == -np.inf, expected == -np.inf)
    finite = np.isfinite(expected)
    assert finite.any()
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
def test_matches_brute_force_held_out_log_likelihood(kernel: str) -> None:
    X, _ = mixture(0)
    grid = np.array(GRID)
    result = cross_validate_bandwidth(X, grid, kernel=kernel, n_folds=4, random_state=1)
    folds = assign_folds(len(X), 4, random_state=1)
    expected = brute_force_fold_log_likelihood(X, grid, kernel, folds)
    assert_same_log_likelihoods(result.fold_log_likelihood, expected)
    np.testing.assert_allclose(
        result.mean_log_likelihood[np.isfinite(expected).all(axis=0)],
        expected.mean(axis=0)[np.isfinite(expected).all(axis=0)],
        rtol=1e-9,
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_grouped_search_scores_each_point_against_its_own_class(kernel: str) -> None:
    X, labels = mixture(1, n=75)
    grid = np.array(GRID)
    result = cross_validate_bandwidth(
        X, grid, kernel=kernel, n_folds=3, random_state=2, groups=labels
    )
    folds = assign_folds(len(X), 3, random_state=2, groups=labels)
    expected = brute_force_fold_log_likelihood(X, grid, kernel, folds, labels)
    assert_same_log_likelihoods(result.fold_log_likelihood, expected)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential", "epanechnikov"])
def test_pruned_chunked_threaded_search_stays_exact(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MNIST-like: many dimensions, a wide grid, rows long enough that small
    # bandwidths drop most terms and the chunks switch to compressed lists.
    rng = np.random.default_rng(3)
    spread = 4.0 if kernel == "exponential" else 1.0
    X = rng.normal(size=(300, 20)) * np.linspace(2.0, 0.2, 20) * spread
    grid = np.logspace(-1, 1, 20)
    compressed_calls = []
    original_terms = kernel_sums.kernel_terms

    def spying_terms(values: np.ndarray, *args: object) -> np.ndarray:
        compressed_calls.append(values.ndim == 1)
        return original_terms(values, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(kernel_sums, "kernel_terms", spying_terms)
    monkeypatch.setattr(kernel_sums, "CHUNK_BYTES", 8 * 240 * 7)
    monkeypatch.setattr(kernel_sums, "BLOCK_BYTES", 8 * 240 * 21)
    result = cross_validate_bandwidth(
        X, grid, kernel=kernel, n_folds=5, random_state=4, n_jobs=3
    )
    assert any(compressed_calls)
    assert not all(compressed_calls)
    folds = assign_folds(len(X), 5, random_state=4)
    expected = brute_force_fold_log_likelihood(X, grid, kernel, folds)
    assert_same_log_likelihoods(result.fold_log_likelihood, expected)


def test_thread_count_does_not_change_the_result() -> None:
    X, _ = mixture(5, n=200, d=6)
    grid = np.logspace(-1, 1, 8)
    one = cross_validate_bandwidth(X, grid, random_state=0, n_jobs=1)
    two = cross_validate_bandwidth(X, grid, random_state=0, n_jobs=2)
    np.testing.assert_allclose(
        one.fold_log_likelihood, two.fold_log_likelihood, rtol=1e-13
    )


def test_result_follows_the_grid_order_and_picks_the_best() -> None:
    X, _ = mixture(6)
    grid = np.array([2.0, 0.05, 0.5, 8.0])
    result = cross_validate_bandwidth(X, grid, random_state=0)
    assert isinstance(result, CrossValidationResult)
    np.testing.assert_array_equal(result.bandwidths, grid)
    assert result.fold_log_likelihood.shape == (5, 4)
    np.testing.assert_allclose(
        result.mean_log_likelihood, result.fold_log_likelihood.mean(axis=0)
    )
    assert result.best_bandwidth == grid[np.argmax(result.mean_log_likelihood)]
    ascending = cross_validate_bandwidth(X, np.sort(grid), random_state=0)
    np.testing.assert_allclose(
        ascending.mean_log_likelihood,
        result.mean_log_likelihood[np.argsort(grid)],
        rtol=1e-12,
    )


def test_all_infinite_grid_falls_back_to_the_largest_bandwidth() -> None:
    X, _ = mixture(7, offset=0.0)
    result = cross_validate_bandwidth(X, [1e-4, 1e-3], kernel="tophat", random_state=0)
    assert np.isneginf(result.mean_log_likelihood).all()
    assert result.best_bandwidth == 1e-3


def test_callback_is_called_after_each_fold() -> None:
    X, _ = mixture(8)
    calls: list[tuple[int, int]] = []
    cross_validate_bandwidth(
        X, GRID, n_folds=4, random_state=0, callback=lambda i, n: calls.append((i, n))
    )
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4)]


def test_raising_from_the_callback_cancels_the_search() -> None:
    class Cancelled(Exception):
        pass

    calls: list[int] = []

    def cancel_after_second_fold(fold_index: int, n_folds: int) -> None:
        calls.append(fold_index)
        if fold_index == 1:
            raise Cancelled

    X, _ = mixture(9)
    with pytest.raises(Cancelled):
        cross_validate_bandwidth(
            X, GRID, random_state=0, callback=cancel_after_second_fold
        )
    assert calls == [0, 1]


# --- search_bandwidth: the same best bandwidth and score, fewer bandwidths --------


def mnist_like(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, 240)
    centres = rng.normal(size=(4, 20)) * 2.0
    return centres[labels] + rng.normal(size=(240, 20)) * np.linspace(
        2, 0.2, 20
    ), labels


DATA_SETS = {
    "mixture": lambda: mixture(10)[0],
    "mixture far from the origin, other seed": lambda: mixture(11, n=120, d=5)[0],
    "mnist-like": lambda: mnist_like(12)[0],
    "mnist-like, spread": lambda: mnist_like(13)[0] * 4.0,
}
WIDE_GRID = np.logspace(-2, 2, 25)


def assert_same_choice_and_score(
    fast: CrossValidationResult, exact: CrossValidationResult, expected: np.ndarray
) -> None:
    """Same best bandwidth; its score and every computed one equal the exact
    computation (and a brute-force one); the rest are upper bounds."""
    assert fast.best_bandwidth == exact.best_bandwidth
    np.testing.assert_array_equal(fast.bandwidths, exact.bandwidths)
    computed = np.ones(fast.bandwidths.size, bool) if fast.exact is None else fast.exact
    best = int(np.flatnonzero(fast.bandwidths == fast.best_bandwidth)[0])
    assert computed[best]
    np.testing.assert_allclose(
        fast.fold_log_likelihood[:, computed],
        exact.fold_log_likelihood[:, computed],
        rtol=1e-12,
    )
    assert_same_log_likelihoods(
        fast.fold_log_likelihood[:, computed], expected[:, computed]
    )
    np.testing.assert_allclose(
        fast.mean_log_likelihood[best], expected.mean(axis=0)[best], rtol=1e-9
    )
    assert (fast.fold_log_likelihood[:, ~computed] >= expected[:, ~computed]).all()
    assert (fast.mean_log_likelihood[~computed] < fast.mean_log_likelihood[best]).all()


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("data_set", sorted(DATA_SETS))
def test_fast_search_picks_the_exact_best_bandwidth_and_score(
    data_set: str, kernel: str
) -> None:
    X = DATA_SETS[data_set]()
    grid = np.random.default_rng(0).permutation(WIDE_GRID)
    fast = search_bandwidth(X, grid, kernel=kernel, n_folds=4, random_state=3)
    exact = cross_validate_bandwidth(X, grid, kernel=kernel, n_folds=4, random_state=3)
    folds = assign_folds(len(X), 4, random_state=3)
    expected = brute_force_fold_log_likelihood(X, grid, kernel, folds)
    assert_same_choice_and_score(fast, exact, expected)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
def test_fast_grouped_search_picks_the_exact_best_bandwidth_and_score(
    kernel: str,
) -> None:
    X, labels = mnist_like(14)
    fast = search_bandwidth(
        X, WIDE_GRID, kernel=kernel, n_folds=3, random_state=2, groups=labels
    )
    exact = cross_validate_bandwidth(
        X, WIDE_GRID, kernel=kernel, n_folds=3, random_state=2, groups=labels
    )
    folds = assign_folds(len(X), 3, random_state=2, groups=labels)
    expected = brute_force_fold_log_likelihood(X, WIDE_GRID, kernel, folds, labels)
    assert_same_choice_and_score(fast, exact, expected)
    assert fast.exact is not None


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
def test_fast_search_leaves_out_the_wide_bandwidths_that_lose(kernel: str) -> None:
    X = mnist_like(15)[0]
    result = search_bandwidth(X, WIDE_GRID, kernel=kernel, random_state=0)
    assert result.exact is not None
    assert not result.exact.all()
    assert (WIDE_GRID[~result.exact] > result.best_bandwidth).all()


@pytest.mark.parametrize("kernel", ["tophat", "epanechnikov", "linear", "cosine"])
def test_fast_search_computes_every_bandwidth_of_compact_kernels(kernel: str) -> None:
    X = mnist_like(16)[0]
    assert search_bandwidth(X, WIDE_GRID, kernel=kernel, random_state=0).exact is None


@pytest.mark.parametrize("pilot_best", ["narrowest", "widest"])
def test_a_wrong_pilot_guess_costs_passes_not_the_result(
    pilot_best: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def misleading_pilot(problem: search._SearchProblem, *args: object) -> np.ndarray:
        return -problem.grid if pilot_best == "narrowest" else problem.grid

    monkeypatch.setattr(search._SearchProblem, "pilot_log_likelihood", misleading_pilot)
    X = mnist_like(17)[0]
    fast = search_bandwidth(X, WIDE_GRID, n_folds=4, random_state=5)
    exact = cross_validate_bandwidth(X, WIDE_GRID, n_folds=4, random_state=5)
    folds = assign_folds(len(X), 4, random_state=5)
    expected = brute_force_fold_log_likelihood(X, WIDE_GRID, "gaussian", folds)
    assert_same_choice_and_score(fast, exact, expected)
    if pilot_best == "widest":
        assert fast.exact is None
    else:
        assert fast.exact is not None
        assert not fast.exact.all()


def test_fast_search_reports_progress_once_per_fold() -> None:
    calls: list[tuple[int, int]] = []
    search_bandwidth(
        mnist_like(18)[0],
        WIDE_GRID,
        n_folds=3,
        random_state=0,
        callback=lambda i, n: calls.append((i, n)),
    )
    assert calls == [(0, 3), (1, 3), (2, 3)]


# --- folds ----------------------------------------------------------------------


def test_folds_are_balanced_shuffled_and_seeded() -> None:
    folds = assign_folds(103, 5, random_state=0)
    assert sorted(np.bincount(folds).tolist()) == [20, 20, 21, 21, 21]
    np.testing.assert_array_equal(folds, assign_folds(103, 5, random_state=0))
    assert not np.array_equal(folds, assign_folds(103, 5, random_state=1))
    assert not np.array_equal(folds, np.arange(103) % 5)


def test_grouped_folds_are_stratified() -> None:
    labels = np.repeat([0, 1, 2], [50, 30, 7])
    folds = assign_folds(len(labels), 5, random_state=0, groups=labels)
    for label in (0, 1, 2):
        counts = np.bincount(folds[labels == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_folds": 1}, "n_folds"),
        ({"n_folds": 31}, "n_folds"),
        ({"groups": np.r_[np.zeros(29), 1]}, "at least 2"),
        ({"groups": np.zeros(5)}, "shape"),
        ({"kernel": "box"}, "kernel"),
        ({"bandwidths": [0.1, -1.0]}, "positive"),
        ({"bandwidths": []}, "non-empty"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"bandwidths": GRID, **kwargs}
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=match):
        cross_validate_bandwidth(X, **arguments)  # type: ignore[arg-type]


def test_bandwidth_grid_values_hit_both_ends_exactly() -> None:
    values = bandwidth_grid_values((0.1, 10.0, 20))
    assert values[0] == 0.1
    assert values[-1] == 10.0
    np.testing.assert_allclose(np.diff(np.log(values)), np.log(100) / 19)
    assert bandwidth_grid_values((0.5, 0.5, 1)).tolist() == [0.5]


@pytest.mark.parametrize(
    ("bandwidths", "chosen", "edge"),
    [
        ([0.1, 1.0, 10.0], 0.1, "lower"),
        ([0.1, 1.0, 10.0], 10.0, "upper"),
        ([0.1, 1.0, 10.0], 1.0, None),
        ([0.5], 0.5, None),
        ([0.5, 0.5], 0.5, None),
    ],
)
def test_grid_edge(bandwidths: list[float], chosen: float, edge: str | None) -> None:
    assert grid_edge(bandwidths, chosen) == edge


def test_a_widened_grid_reaches_a_decade_further_and_stays_in_bounds() -> None:
    start, stop, num = widened_grid((2.0, 10.0, 5), "lower")
    assert (start, stop) == (0.2, 10.0)
    # About as many values per decade as before: 4 steps over 0.7 decades.
    assert num == 5 + round(4 / math.log10(5))
    assert widened_grid((0.1, 10.0, 45), "upper") == (0.1, 100.0, 50)
    with pytest.raises(ValueError, match="cannot widen"):
        widened_grid((0.5, 0.5, 1), "lower")
    with pytest.raises(ValueError, match="cannot widen"):
        widened_grid((0.1, 1.0, 3), "left")
