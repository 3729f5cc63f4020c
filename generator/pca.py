"""Principal component analysis for flattened images."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from generator.kde import NotFittedError

__all__ = ["PCA"]

FloatArray = NDArray[np.float64]


class PCA:
    """Principal component analysis computed exactly in float64.

    Parameters
    ----------
    n_components : int or float, default=50
        An int keeps that many components (at most ``min(n_samples, n_features)``).
        A float in (0, 1) keeps the smallest number of components whose cumulative
        explained variance ratio is at least that fraction.
    whiten : bool, default=False
        Divide the projections by the square root of their variances, so that every
        kept component has unit variance on the training data.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Orthonormal principal axes, by decreasing variance. Each axis's sign is
        fixed so that its largest-magnitude entry is positive (scikit-learn's
        ``svd_flip`` convention), which makes the result deterministic.
    mean_ : ndarray of shape (n_features,)
    explained_variance_ : ndarray of shape (n_components_,)
        Variance (``ddof=1``) of the training data along each axis.
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        ``explained_variance_ / total_variance_``: a fraction of the variance of
        ALL features, so its cumulative sum is the true fraction explained.
    total_variance_ : float
        Sum of the per-feature variances (``ddof=1``) of the training data.
    n_components_ : int
    n_features_in_ : int
    n_samples_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5)) * [5.0, 2.0, 1.0, 0.1, 0.1]
    >>> pca = PCA(n_components=0.9).fit(X)
    >>> pca.n_components_
    2
    >>> pca.transform(X).shape
    (100, 2)
    """

    components_: FloatArray
    mean_: FloatArray
    explained_variance_: FloatArray
    explained_variance_ratio_: FloatArray
    total_variance_: float
    n_components_: int
    n_features_in_: int
    n_samples_: int

    def __init__(self, *, n_components: int | float = 50, whiten: bool = False) -> None:
        self.n_components = n_components
        self.whiten = whiten

    def fit(self, X: ArrayLike) -> PCA:
        """Fit the principal axes to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite training data, at least two samples.

        Returns
        -------
        self : PCA
        """
        data = _as_2d_float(X, "X")
        n_samples, n_features = data.shape
        if n_samples < 2:
            raise ValueError(f"PCA needs at least 2 samples, got {n_samples}")
        max_components = min(n_samples, n_features)
        fraction = _check_n_components(self.n_components, max_components)

        mean = data.mean(axis=0)
        centred = data - mean
        # One BLAS thread: on a busy machine (a worker running several jobs),
        # OpenBLAS's spinning threads made this step slow and erratic (10,000
        # MNIST images: 0.6-3.6 s threaded, a steady 0.2 s single-threaded), so
        # threading could save at most 0.1 s on an idle one.
        with threadpool_limits(limits=1, user_api="blas"):
            variances, axes, total_variance = _decompose(centred)
        variances = variances[:max_components]
        axes = axes[:max_components]

        if total_variance > 0.0:
            ratios = variances / total_variance
        else:
            ratios = np.zeros_like(variances)
        if fraction is None:
            n_kept = int(self.n_components)
        else:
            cumulative = np.cumsum(ratios)
            # Rounding can leave the full cumulative sum a hair under a fraction
            # that every component together certainly reaches.
            reached = np.flatnonzero(cumulative >= fraction - 1e-12)
            n_kept = int(reached[0]) + 1 if reached.size else max_components

        axes = axes[:n_kept].copy()
        largest = np.argmax(np.abs(axes), axis=1)
        signs = np.sign(axes[np.arange(n_kept), largest])
        axes *= signs[:, np.newaxis]
        return self._set_fitted(
            axes, mean, variances[:n_kept].copy(), total_variance, n_samples
        )

    @classmethod
    def from_arrays(
        cls,
        components: FloatArray,
        mean: FloatArray,
        explained_variance: FloatArray,
        *,
        total_variance: float,
        n_samples: int,
        n_components: int | float = 50,
        whiten: bool = False,
    ) -> PCA:
        """A fitted PCA from its learned arrays (how `generator.io` rebuilds one).

        Parameters
        ----------
        components : ndarray of shape (k, n_features)
        mean : ndarray of shape (n_features,)
        explained_variance : ndarray of shape (k,)
        total_variance : float
        n_samples : int
            The fitted attributes of the same names (with a trailing ``_``).
        n_components : int or float, default=50
        whiten : bool, default=False
            The hyperparameters.

        Returns
        -------
        PCA
            Transforms exactly like the PCA the arrays came from.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(20, 3))
        >>> pca = PCA(n_components=2).fit(X)
        >>> copy = PCA.from_arrays(
        ...     pca.components_, pca.mean_, pca.explained_variance_,
        ...     total_variance=pca.total_variance_, n_samples=pca.n_samples_,
        ... )
        >>> bool(np.array_equal(copy.transform(X), pca.transform(X)))
        True
        """
        pca = cls(n_components=n_components, whiten=whiten)
        return pca._set_fitted(
            components, mean, explained_variance, total_variance, n_samples
        )

    def _set_fitted(
        self,
        components: FloatArray,
        mean: FloatArray,
        explained_variance: FloatArray,
        total_variance: float,
        n_samples: int,
    ) -> PCA:
        self.components_ = components
        self.mean_ = mean
        self.explained_variance_ = explained_variance
        self.explained_variance_ratio_ = (
            explained_variance / total_variance
            if total_variance > 0.0
            else np.zeros_like(explained_variance)
        )
        self.total_variance_ = total_variance
        self.n_components_ = components.shape[0]
        self.n_features_in_ = components.shape[1]
        self.n_samples_ = n_samples
        return self

    def transform(self, X: ArrayLike) -> FloatArray:
        """Project ``X`` onto the principal axes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
            Whitened when ``whiten`` is true.
        """
        self._check_fitted()
        data = _as_2d_float(X, "X")
        if data.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {data.shape[1]} features, but PCA was fitted with "
                f"{self.n_features_in_}"
            )
        projected: FloatArray = (data - self.mean_) @ self.components_.T
        if self.whiten:
            projected /= self._whitening_scale()
        return projected

    def fit_transform(self, X: ArrayLike) -> FloatArray:
        """Fit to ``X`` and return its projection (see `fit` and `transform`)."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: ArrayLike) -> FloatArray:
        """Map projections back to the original feature space.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components_)
            Projections as returned by `transform` (whitened if ``whiten``).

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        self._check_fitted()
        projected = _as_2d_float(Z, "Z")
        if projected.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {projected.shape[1]} columns, but PCA keeps "
                f"{self.n_components_} components"
            )
        return self._restore(projected)

    def _restore(self, projected: FloatArray) -> FloatArray:
        """`inverse_transform` of a checked float64 matrix, the same arithmetic
        (`ImageGenerator.sample_seeds` restores one row per call)."""
        if self.whiten:
            projected = projected * self._whitening_scale()
        restored: FloatArray = projected @ self.components_ + self.mean_
        return restored

    def _whitening_scale(self) -> FloatArray:
        # Floored so that a kept component without variance (constant pixels,
        # rank-deficient data) cannot turn projections into inf or nan.
        floor = np.finfo(np.float64).eps * max(float(self.explained_variance_[0]), 1.0)
        scale: FloatArray = np.sqrt(np.maximum(self.explained_variance_, floor))
        return scale

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError(
                "This PCA instance is not fitted yet; call fit() before using it"
            )


def _decompose(centred: FloatArray) -> tuple[FloatArray, FloatArray, float]:
    """Variances (descending), principal axes (rows) and total variance."""
    n_samples, n_features = centred.shape
    if n_samples >= n_features:
        # The (d, d) scatter matrix costs one matrix product and a small eigh:
        # about 10x faster than an SVD of MNIST-sized data, and (like
        # scikit-learn's "covariance_eigh" solver) accurate for the large
        # leading variances that we keep.
        scatter = centred.T @ centred
        eigenvalues, eigenvectors = np.linalg.eigh(scatter)
        variances = np.maximum(eigenvalues[::-1], 0.0) / (n_samples - 1)
        axes = np.ascontiguousarray(eigenvectors[:, ::-1].T)
        total_variance = float(np.trace(scatter)) / (n_samples - 1)
    else:
        _, singular_values, axes = np.linalg.svd(centred, full_matrices=False)
        variances = singular_values**2 / (n_samples - 1)
        total_variance = float(np.einsum("ij,ij->", centred, centred)) / (n_samples - 1)
    return variances, axes, total_variance


def _check_n_components(n_components: object, max_components: int) -> float | None:
    """Return the variance fraction, or None when an integer count was given."""
    if isinstance(n_components, numbers.Integral) and not isinstance(
        n_components, bool
    ):
        if not 1 <= int(n_components) <= max_components:
            raise ValueError(
                f"n_components must be from 1 to {max_components} "
                f"(min(n_samples, n_features)), got {n_components}"
            )
        return None
    if isinstance(n_components, numbers.Real) and not isinstance(n_components, bool):
        value = float(n_components)
        if 0.0 < value < 1.0:
            return value
    raise ValueError(
        "n_components must be an integer from 1 to "
        f"{max_components} or a fraction in (0, 1), got {n_components!r}"
    )


def _as_2d_float(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array
