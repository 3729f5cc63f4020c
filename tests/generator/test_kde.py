from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from sklearn.neighbors import KernelDensity as SklearnKernelDensity

from generator import kde as kde_module
from generator import kernel_sums
from generator.kde import KernelDensity, NotFittedError, estimate_bandwidth
from generator.kernel_sums import KERNELS
from tests.generator.kde_reference import (
    log_profile,
    radial_moment,
    reference_log_normalisation,
)

COMPACT = ("tophat", "epanechnikov", "linear", "cosine")


def reference_log_density(
    train: np.ndarray,
    queries: np.ndarray,
    bandwidth: float,
    kernel: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    distances = np.sqrt(((queries[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1))
    if weights is None:
        weights = np.ones(len(train))
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights / weights.sum())
    d = train.shape[1]
    return (
        special.logsumexp(
            log_profile(kernel, distances / bandwidth) + log_weights, axis=1
        )
        + reference_log_normalisation(kernel, d)
        - d * math.log(bandwidth)
    )


def clustered_data(
    seed: int, n: int = 150, d: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(4, d)) + 100.0  # far from the origin
    train = centres[rng.integers(0, 4, n)] + rng.normal(size=(n, d))
    queries = np.concatenate(
        [
            train[:10],  # in every kernel's support however small the bandwidth
            train[10:20] + rng.normal(scale=1e-4, size=(10, d)),
            centres[rng.integers(0, 4, 20)] + 1.5 * rng.normal(size=(20, d)),
            centres[:1] + 50.0,  # far away from everything
        ]
    )
    return train, queries


def assert_log_close(actual: np.ndarray, expected: np.ndarray, rtol: float) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isfinite(actual), np.isfinite(expected))
    np.testing.assert_array_equal(actual == -np.inf, expected == -np.inf)
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=rtol, atol=rtol)


# --- normalisation ------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
def test_density_integrates_to_one_in_two_dimensions(kernel: str) -> None:
    train = np.array([[0.0, 0.0], [0.5, 0.2], [-0.3, 0.6]])
    model = KernelDensity(kernel=kernel, bandwidth=0.4).fit(train)
    step = 0.01
    axis = np.arange(-7.0, 7.0, step) + step / 2
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    total = np.exp(model.score_samples(grid)).sum() * step**2
    assert total == pytest.approx(1.0, abs=2e-3)


# --- score_samples --------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bandwidth", [1e-3, 0.05, 0.4, 1.5, 10.0])
def test_score_samples_matches_brute_force(kernel: str, bandwidth: float) -> None:
    train, queries = clustered_data(0)
    ours = KernelDensity(kernel=kernel, bandwidth=bandwidth).fit(train)
    expected = reference_log_density(train, queries, bandwidth, kernel)
    assert np.isfinite(expected).any()
    assert_log_close(ours.score_samples(queries), expected, rtol=1e-9)


def test_tiny_bandwidth_stays_finite_where_naive_exp_underflows() -> None:
    train, queries = clustered_data(1)
    bandwidth = 1e-3
    with np.errstate(divide="ignore"):
        naive = np.log(
            np.exp(
                -((queries[20:40, None] - train[None]) ** 2).sum(-1)
                / (2 * bandwidth**2)
            ).mean(axis=1)
        )
    assert np.isneginf(naive).all()
    scores = KernelDensity(bandwidth=bandwidth).fit(train).score_samples(queries[20:40])
    assert np.isfinite(scores).all()
    assert_log_close(
        scores,
        reference_log_density(train, queries[20:40], bandwidth, "gaussian"),
        1e-9,
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_weighted_score_samples_matches_brute_force(kernel: str) -> None:
    train, queries = clustered_data(2)
    weights = np.random.default_rng(2).random(len(train))
    weights[::7] = 0.0
    model = KernelDensity(kernel=kernel, bandwidth=1.2).fit(
        train, sample_weight=weights
    )
    expected = reference_log_density(train, queries, 1.2, kernel, weights)
    assert_log_close(model.score_samples(queries), expected, rtol=1e-9)
    assert model.X_.shape[0] == np.count_nonzero(weights)


@pytest.mark.parametrize("kernel", KERNELS)
def test_small_chunks_and_threads_give_the_same_scores(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, queries = clustered_data(3, n=400)
    model = KernelDensity(kernel=kernel, bandwidth=0.8).fit(train)
    whole = model.score_samples(queries)
    monkeypatch.setattr(kernel_sums, "CHUNK_BYTES", 8 * 400 * 3)
    monkeypatch.setattr(kernel_sums, "BLOCK_BYTES", 8 * 400 * 9)
    monkeypatch.setattr(kde_module, "n_threads", lambda n_jobs=None: 3)
    chunked = model.score_samples(queries)
    # Equal up to rounding: BLAS may order a product differently for other shapes.
    np.testing.assert_allclose(chunked, whole, rtol=1e-13)
    assert_log_close(chunked, reference_log_density(train, queries, 0.8, kernel), 1e-9)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential", "linear", "cosine"])
@pytest.mark.parametrize("bandwidth", [0.5, 1.5])
def test_score_samples_matches_sklearn_at_moderate_bandwidth(
    kernel: str, bandwidth: float
) -> None:
    train, queries = clustered_data(4, d=3)
    theirs = SklearnKernelDensity(kernel=kernel, bandwidth=bandwidth, rtol=0, atol=0)
    expected = theirs.fit(train).score_samples(queries)
    ours = KernelDensity(kernel=kernel, bandwidth=bandwidth).fit(train)
    # Where no training point is within reach of a compact kernel, the tree
    # reports the midpoint of its bounds (e.g. -37 instead of -inf); brute force
    # (checked above) has the exact -inf, so compare only where it is finite.
    finite = np.isfinite(reference_log_density(train, queries, bandwidth, kernel))
    assert finite.sum() >= 20
    assert_log_close(ours.score_samples(queries)[finite], expected[finite], rtol=1e-9)


def test_score_is_the_sum_of_score_samples() -> None:
    train, queries = clustered_data(5)
    model = KernelDensity(bandwidth=2.0).fit(train)
    assert model.score(queries[:30]) == pytest.approx(
        model.score_samples(queries[:30]).sum(), rel=1e-12
    )


@pytest.mark.parametrize("rule", ["scott", "silverman"])
def test_rule_of_thumb_bandwidths_match_sklearn(rule: str) -> None:
    data = np.random.default_rng(6).normal(size=(500, 7))
    ours = KernelDensity(bandwidth=rule).fit(data).bandwidth_
    theirs = SklearnKernelDensity(bandwidth=rule).fit(data).bandwidth_
    assert ours == pytest.approx(theirs, rel=1e-15)
    formula = {
        "scott": 500 ** (-1 / 11),
        "silverman": (500 * 9 / 4) ** (-1 / 11),
    }[rule]
    assert estimate_bandwidth(rule, 500, 7) == pytest.approx(formula, rel=1e-15)


# --- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.score_samples(np.zeros((1, 2))),
        lambda m: m.score(np.zeros((1, 2))),
        lambda m: m.sample(1),
    ],
)
def test_unfitted_model_raises_not_fitted_error(call: object) -> None:
    model = KernelDensity()
    with pytest.raises(NotFittedError, match="not fitted"):
        call(model)  # type: ignore[operator]
    assert issubclass(NotFittedError, ValueError)
    assert issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize(
    ("params", "X", "match"),
    [
        ({"kernel": "triangle"}, np.zeros((3, 2)), "kernel"),
        ({"bandwidth": 0.0}, np.zeros((3, 2)), "bandwidth"),
        ({"bandwidth": -1.0}, np.zeros((3, 2)), "bandwidth"),
        ({"bandwidth": float("nan")}, np.zeros((3, 2)), "bandwidth"),
        ({"bandwidth": "cv"}, np.zeros((3, 2)), "scott"),
        ({"bandwidth": True}, np.zeros((3, 2)), "bandwidth"),
        ({}, np.zeros(3), "2-D"),
        ({}, np.zeros((0, 2)), "at least one"),
        ({}, np.array([[0.0, np.nan]]), "NaN"),
    ],
)
def test_fit_rejects_bad_input(
    params: dict[str, object], X: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        KernelDensity(**params).fit(X)  # type: ignore[arg-type]


def test_fit_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        KernelDensity().fit(np.zeros((2, 1)), sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="positive entry"):
        KernelDensity().fit(np.zeros((2, 1)), sample_weight=[0.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        KernelDensity().fit(np.zeros((2, 1)), sample_weight=[1.0])


def test_score_samples_rejects_wrong_number_of_features() -> None:
    model = KernelDensity().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="features"):
        model.score_samples(np.zeros((1, 3)))


def test_sample_rejects_bad_arguments() -> None:
    model = KernelDensity().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(-1)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(1, temperature=-0.5)
    with pytest.raises(ValueError, match="random_state"):
        model.sample(1, random_state=np.random.RandomState(0))  # type: ignore[arg-type]


# --- sampling -----------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("n_features", [1, 2, 5, 50])
def test_sample_offsets_have_the_kernels_radial_moments(
    kernel: str, n_features: int
) -> None:
    n_samples, bandwidth = 20_000, 0.7
    centre = np.full((1, n_features), 3.0)
    model = KernelDensity(kernel=kernel, bandwidth=bandwidth).fit(centre)
    offsets = (model.sample(n_samples, random_state=7) - centre) / bandwidth
    radius = np.linalg.norm(offsets, axis=1)

    mass = radial_moment(kernel, n_features, 0.0)
    m1, m2, m4 = (radial_moment(kernel, n_features, p) / mass for p in (1, 2, 4))
    se_r = math.sqrt((m2 - m1**2) / n_samples)
    se_r2 = math.sqrt((m4 - m2**2) / n_samples)
    assert abs(radius.mean() - m1) < 5 * se_r
    assert abs((radius**2).mean() - m2) < 5 * se_r2
    # Directions: isotropic, so each coordinate of the offset has mean 0.
    coordinate_se = math.sqrt(m2 / n_features / n_samples)
    assert np.abs(offsets.mean(axis=0)).max() < 5 * coordinate_se
    if kernel in COMPACT:
        assert radius.max() <= 1.0


@pytest.mark.parametrize("kernel", KERNELS)
def test_one_dimensional_samples_follow_the_density(kernel: str) -> None:
    train = np.array([[0.0], [0.3], [2.0]])
    model = KernelDensity(kernel=kernel, bandwidth=0.5).fit(train)
    samples = np.sort(model.sample(5000, random_state=11)[:, 0])
    step = 1e-3
    grid = np.arange(-12.0, 14.0, step)
    cdf = np.cumsum(np.exp(model.score_samples(grid[:, None]))) * step
    assert cdf[-1] == pytest.approx(1.0, abs=1e-3)
    model_cdf = np.interp(samples, grid, cdf)
    empirical = np.arange(1, samples.size + 1) / samples.size
    # Kolmogorov-Smirnov at the 1% level.
    assert np.abs(model_cdf - empirical).max() < 1.63 / math.sqrt(samples.size)


@pytest.mark.parametrize("kernel", KERNELS)
def test_sampling_is_deterministic_for_a_seed(kernel: str) -> None:
    train, _ = clustered_data(8, n=50, d=4)
    model = KernelDensity(kernel=kernel, bandwidth=0.3).fit(train)
    first = model.sample(100, random_state=3)
    np.testing.assert_array_equal(first, model.sample(100, random_state=3))
    np.testing.assert_array_equal(
        first, model.sample(100, random_state=np.random.default_rng(3))
    )
    assert not np.array_equal(first, model.sample(100, random_state=4))
    assert first.shape == (100, 4)
    assert model.sample(0, random_state=0).shape == (0, 4)


@pytest.mark.parametrize("kernel", KERNELS)
def test_temperature_scales_the_offsets(kernel: str) -> None:
    centre = np.array([[1.0, -2.0, 0.5]])
    model = KernelDensity(kernel=kernel, bandwidth=0.4).fit(centre)
    plain = model.sample(500, random_state=5) - centre
    hot = model.sample(500, random_state=5, temperature=2.5) - centre
    np.testing.assert_allclose(hot, 2.5 * plain, rtol=1e-9, atol=1e-12)
    cold = model.sample(5, random_state=5, temperature=0.0)
    np.testing.assert_array_equal(cold, np.repeat(centre, 5, axis=0))


def test_sample_picks_centres_by_weight() -> None:
    train = np.array([[0.0], [10.0], [20.0]])
    model = KernelDensity(kernel="tophat", bandwidth=1.0)
    model.fit(train, sample_weight=[0.0, 1.0, 3.0])
    nearest = np.rint(model.sample(8000, random_state=9)[:, 0] / 10.0)
    counts = np.bincount(nearest.astype(int), minlength=3)
    assert counts[0] == 0
    assert counts[2] / 8000 == pytest.approx(0.75, abs=0.02)


class CountingGenerator:
    """Forwards to a Generator, counting the proposals drawn from ``beta``."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.proposals = 0

    def beta(self, a: float, b: float, size: int) -> np.ndarray:
        self.proposals += size
        return self.rng.beta(a, b, size)

    def random(self, size: int) -> np.ndarray:
        return self.rng.random(size)


@pytest.mark.parametrize("n_features", [1, 2, 50])
def test_cosine_rejection_sampler_accepts_most_proposals(n_features: int) -> None:
    counting = CountingGenerator(0)
    kde_module._sample_cosine_radius(n_features, 10_000, counting)  # type: ignore[arg-type]
    assert counting.proposals / 10_000 < 1 / 0.78  # acceptance >= 8/pi**2 ~ 0.81
