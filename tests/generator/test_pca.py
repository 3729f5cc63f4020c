from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as ReferencePCA

from generator.kde import NotFittedError
from generator.pca import PCA


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return np.asarray(load_digits().data, dtype=np.float64) / 16.0


@pytest.fixture(scope="module")
def wide() -> np.ndarray:
    # Fewer samples than features: the SVD branch.
    rng = np.random.default_rng(0)
    return rng.normal(size=(30, 100)) * np.linspace(3.0, 0.1, 100)


def align_signs(actual: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flip each row of ``actual`` to point the same way as ``reference``."""
    signs = np.sign(np.sum(actual * reference, axis=1))
    return actual * signs[:, np.newaxis]


@pytest.mark.parametrize("data_name", ["digits", "wide"])
@pytest.mark.parametrize("n_components", [1, 5, 20])
@pytest.mark.parametrize("whiten", [False, True])
def test_matches_scikit_learn_up_to_sign(
    request: pytest.FixtureRequest, data_name: str, n_components: int, whiten: bool
) -> None:
    X = request.getfixturevalue(data_name)
    ours = PCA(n_components=n_components, whiten=whiten).fit(X)
    reference = ReferencePCA(
        n_components=n_components, whiten=whiten, svd_solver="full"
    ).fit(X)

    assert ours.n_components_ == n_components
    np.testing.assert_allclose(ours.mean_, reference.mean_, atol=1e-12)
    np.testing.assert_allclose(
        ours.explained_variance_, reference.explained_variance_, rtol=1e-9
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-9
    )
    components = align_signs(ours.components_, reference.components_)
    np.testing.assert_allclose(components, reference.components_, atol=1e-8)
    projected = ours.transform(X) * np.sign(
        np.sum(ours.components_ * reference.components_, axis=1)
    )
    np.testing.assert_allclose(projected, reference.transform(X), atol=1e-8)
    np.testing.assert_allclose(
        ours.inverse_transform(ours.transform(X)),
        reference.inverse_transform(reference.transform(X)),
        atol=1e-8,
    )


def test_largest_entry_of_every_component_is_positive(digits: np.ndarray) -> None:
    components = PCA(n_components=30).fit(digits).components_
    largest = components[np.arange(30), np.argmax(np.abs(components), axis=1)]
    assert (largest > 0).all()


def test_refitting_gives_identical_results(digits: np.ndarray) -> None:
    first = PCA(n_components=10).fit(digits)
    second = PCA(n_components=10).fit(digits.copy())
    assert np.array_equal(first.components_, second.components_)
    assert np.array_equal(first.transform(digits), second.transform(digits))


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8, 0.95, 0.999])
def test_fraction_keeps_the_fewest_components_reaching_it(
    digits: np.ndarray, fraction: float
) -> None:
    ours = PCA(n_components=fraction).fit(digits)
    full = PCA(n_components=64).fit(digits)
    cumulative = np.cumsum(full.explained_variance_ratio_)
    k = ours.n_components_
    assert cumulative[k - 1] >= fraction
    assert k == 1 or cumulative[k - 2] < fraction
    assert (
        ours.n_components_
        == ReferencePCA(n_components=fraction).fit(digits).n_components_
    )


def test_ratio_is_relative_to_the_total_variance_of_all_features(
    digits: np.ndarray,
) -> None:
    total = digits.var(axis=0, ddof=1).sum()
    few = PCA(n_components=10).fit(digits)
    assert few.total_variance_ == pytest.approx(total, rel=1e-12)
    assert few.explained_variance_ratio_.sum() == pytest.approx(
        few.explained_variance_.sum() / total, rel=1e-12
    )
    assert few.explained_variance_ratio_.sum() < 0.8
    everything = PCA(n_components=64).fit(digits)
    assert everything.explained_variance_ratio_.sum() == pytest.approx(1.0, abs=1e-12)


def test_whitened_projections_have_unit_variance(digits: np.ndarray) -> None:
    projected = PCA(n_components=15, whiten=True).fit_transform(digits)
    np.testing.assert_allclose(projected.var(axis=0, ddof=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(projected.mean(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("whiten", [False, True])
def test_full_rank_round_trip_restores_the_data(wide: np.ndarray, whiten: bool) -> None:
    # 30 centred samples span 29 dimensions, so 29 components lose nothing.
    pca = PCA(n_components=29, whiten=whiten).fit(wide)
    np.testing.assert_allclose(
        pca.inverse_transform(pca.transform(wide)), wide, atol=1e-9
    )


def test_whitening_survives_components_without_variance() -> None:
    X = np.zeros((20, 6))
    X[:, 0] = np.arange(20.0)
    pca = PCA(n_components=6, whiten=True).fit(X)
    projected = pca.transform(X)
    assert np.isfinite(projected).all()
    np.testing.assert_allclose(pca.inverse_transform(projected), X, atol=1e-9)


def test_unfitted_pca_raises_not_fitted(digits: np.ndarray) -> None:
    with pytest.raises(NotFittedError):
        PCA().transform(digits)
    with pytest.raises(NotFittedError):
        PCA().inverse_transform(np.zeros((1, 50)))


@pytest.mark.parametrize("n_components", [0, -1, 65, 1.0, 0.0, -0.5, True, "50", None])
def test_invalid_n_components_is_refused(
    digits: np.ndarray, n_components: object
) -> None:
    with pytest.raises(ValueError, match="n_components"):
        PCA(n_components=n_components).fit(digits)  # type: ignore[arg-type]


def test_wrong_number_of_features_is_refused(digits: np.ndarray) -> None:
    pca = PCA(n_components=5).fit(digits)
    with pytest.raises(ValueError, match="features"):
        pca.transform(digits[:, :10])
    with pytest.raises(ValueError, match="components"):
        pca.inverse_transform(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "X", [np.zeros((1, 5)), np.zeros(5), np.full((4, 3), np.nan)], ids=str
)
def test_unusable_data_is_refused(X: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"samples|2-D|NaN"):
        PCA(n_components=1).fit(X)
