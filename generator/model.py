"""The image generator: PCA, then kernel density estimation in PCA space."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.intensity import (
    apply_intensity_curve,
    check_intensity_curve,
    fit_intensity_curve,
)
from generator.kde import BandwidthRule, KernelDensity, NotFittedError
from generator.kernel_sums import KERNELS
from generator.pca import PCA
from generator.search import (
    CrossValidationResult,
    bandwidth_grid_values,
    search_bandwidth,
)
from generator.settings import PCA_SCOPES
from generator.validation import check_bandwidth, check_image_shape, check_labels

__all__ = [
    "SAMPLE_PIXEL_MAX",
    "ImageGenerator",
    "ProgressCallback",
]

FloatArray = NDArray[np.float64]
ProgressCallback = Callable[[str, float], None]

#: ``sample`` quantises every data set's images to 0..SAMPLE_PIXEL_MAX, whatever
#: the data set's own pixel_max (16 for digits).
SAMPLE_PIXEL_MAX = 255
#: The most training images whose reconstructions fit the intensity curve (evenly
#: spaced through the training set): its quantiles need no more, and the
#: reconstructions of every image would double a large training's memory.
MAX_INTENSITY_IMAGES = 10_000


class ImageGenerator:
    """Generate images from PCA followed by kernel density estimation.

    Images are flattened and projected onto their principal components; a kernel
    density estimate in that space is sampled, and the samples are mapped back to
    pixels (`render`: through the intensity curve when ``match_intensities``),
    clipped to [0, 1] and quantised to ``uint8``.

    Parameters
    ----------
    n_components : int or float, default=50
        See `generator.pca.PCA`.
    whiten : bool, default=False
        Whiten the PCA projections (the density then lives in whitened units).
    kernel : str, default="gaussian"
        One of ``generator.kernel_sums.KERNELS``.
    bandwidth : float or {"cv", "scott", "silverman"}, default="cv"
        ``"cv"`` picks, from ``bandwidth_grid``, the bandwidth with the best
        ``cv_folds``-fold held-out log-likelihood. With ``class_conditional``,
        the search scores each held-out image against its own class and picks one
        bandwidth for all classes, whereas ``"scott"`` and ``"silverman"`` are
        applied to each class's own sample size, giving one bandwidth per class.
    bandwidth_grid : tuple of (float, float, int), default=(0.1, 10.0, 20)
        ``(start, stop, num)``, see `generator.search.bandwidth_grid_values`.
    cv_folds : int, default=5
    class_conditional : bool, default=False
        Fit one density per label (sharing the PCA), so `sample` can be asked
        for a given digit.
    pca_scope : {"shared", "per_class"}, default="shared"
        ``"per_class"`` (class-conditional models only) fits one PCA per label,
        each on that label's images with its own mean, components (an int
        ``n_components``, or the fraction of that label's variance) and, with
        ``bandwidth="cv"``, its own cross-validated bandwidth. Sampling draws a
        label (from ``class_priors_``, or the digit asked for), then a point of
        that label's density, mapped back through that label's PCA.
    temperature : float, default=1.0
        The default of `sample`'s ``temperature`` (the bandwidth scale at
        sampling), stored with the model.
    match_intensities : bool, default=False
        Fit an intensity curve (`generator.intensity`): the monotone map that
        gives the PCA reconstructions of the training images the training
        images' pixel distribution. `render` applies it to every sample after
        the inverse transform, before the clip.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the cross-validation folds.

    Attributes
    ----------
    pca_ : PCA
        The shared PCA (``pca_scope="shared"`` only).
    pcas_ : list of PCA
        ``[pca_]``, or one PCA per class of ``classes_`` (per-class scope).
    kdes_ : list of KernelDensity
        One per class in ``classes_``, or a single one; each lives in the space
        of its PCA.
    classes_ : ndarray of int64 or None
        Sorted labels (class-conditional models only).
    class_priors_ : ndarray of float64 or None
        Proportion of each label in the training data (class-conditional only).
    bandwidth_ : float
        The bandwidth used; for per-class rule bandwidths, their prior-weighted
        mean (see ``kde_bandwidths_``).
    kde_bandwidths_ : ndarray of shape (len(kdes_),)
    cv_result_ : CrossValidationResult or None
        The bandwidth search of a shared-scope model.
    class_cv_results_ : list of CrossValidationResult or None
        One bandwidth search per class (per-class scope with ``bandwidth="cv"``).
    intensity_curve_ : ndarray of shape (2, k) or None
        The intensity curve (``match_intensities`` only): row 0 the pixel
        values of the reconstructions' quantiles, row 1 the training pixels'.
    image_shape_ : tuple of (int, int)
    n_features_in_ : int
    fit_seconds_ : dict of str to float
        Wall time of the ``"pca"``, ``"search"`` and ``"fitting"`` phases.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(size=(60, 16))
    >>> model = ImageGenerator(n_components=3, bandwidth=0.1)
    >>> model.fit(X, image_shape=(4, 4)).sample(2, random_state=0).shape
    (2, 4, 4)
    """

    pcas_: list[PCA]
    kdes_: list[KernelDensity]
    classes_: NDArray[np.int64] | None
    class_priors_: FloatArray | None
    bandwidth_: float
    kde_bandwidths_: FloatArray
    cv_result_: CrossValidationResult | None
    class_cv_results_: list[CrossValidationResult] | None
    intensity_curve_: FloatArray | None
    image_shape_: tuple[int, int]
    n_features_in_: int
    fit_seconds_: dict[str, float]

    def __init__(
        self,
        *,
        n_components: int | float = 50,
        whiten: bool = False,
        kernel: str = "gaussian",
        bandwidth: float | str = "cv",
        bandwidth_grid: tuple[float, float, int] = (0.1, 10.0, 20),
        cv_folds: int = 5,
        class_conditional: bool = False,
        pca_scope: str = "shared",
        temperature: float = 1.0,
        match_intensities: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.bandwidth_grid = bandwidth_grid
        self.cv_folds = cv_folds
        self.class_conditional = class_conditional
        self.pca_scope = pca_scope
        self.temperature = temperature
        self.match_intensities = match_intensities
        self.random_state = random_state

    @property
    def pca_(self) -> PCA:
        """The PCA shared by every class (AttributeError for per-class scope)."""
        self.check_is_fitted()
        if self.pca_scope != "shared":
            raise AttributeError("a per-class model has one PCA per class: use pcas_")
        return self.pcas_[0]

    @property
    def is_per_class(self) -> bool:
        """Whether each class has its own PCA (``pca_scope="per_class"``)."""
        return self.pca_scope == "per_class"

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        image_shape: tuple[int, int],
        callback: ProgressCallback | None = None,
    ) -> ImageGenerator:
        """Fit the PCA, choose the bandwidth and fit the densities.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened images with pixels scaled to [0, 1].
        y : array-like of shape (n_samples,), optional
            Integer labels; required when ``class_conditional``.
        image_shape : tuple of (int, int)
            ``(height, width)`` of the images.
        callback : callable, optional
            ``callback(phase, fraction)`` with ``phase`` in ``"pca"``,
            ``"search"``, ``"fitting"`` (in that order) and ``fraction`` the
            progress within that phase: 0.0 at its start, after each search fold,
            and 1.0 at its end. Whatever it raises propagates and leaves the
            model unchanged.

        Returns
        -------
        self : ImageGenerator
        """
        data = np.asarray(X, dtype=np.float64)
        if data.ndim != 2:
            raise ValueError(f"X must be a 2-D array, got shape {data.shape}")
        if not np.all(np.isfinite(data)):
            raise ValueError("X contains NaN or infinite values")
        if data.size and (data.min() < 0.0 or data.max() > 1.0):
            raise ValueError("X must hold pixel values scaled to [0, 1]")
        shape = check_image_shape(image_shape, data.shape[1])
        if self.kernel not in KERNELS:
            raise ValueError(
                f"kernel must be one of {', '.join(KERNELS)}, got {self.kernel!r}"
            )
        check_bandwidth(self.bandwidth)
        if not isinstance(self.class_conditional, bool):
            raise ValueError("class_conditional must be True or False")
        if self.pca_scope not in PCA_SCOPES:
            raise ValueError(
                f"pca_scope must be one of {', '.join(PCA_SCOPES)}, "
                f"got {self.pca_scope!r}"
            )
        if self.is_per_class and not self.class_conditional:
            raise ValueError("pca_scope='per_class' needs class_conditional=True")
        if not isinstance(self.match_intensities, bool):
            raise ValueError("match_intensities must be True or False")
        _check_temperature(self.temperature)
        labels = None
        if self.class_conditional:
            labels = check_labels(y, data.shape[0])
        grid = None
        if self.bandwidth == "cv":
            cv_folds = self.cv_folds
            if (
                isinstance(cv_folds, bool)
                or not isinstance(cv_folds, numbers.Integral)
                or cv_folds < 2
            ):
                raise ValueError(f"cv_folds must be an integer >= 2, got {cv_folds!r}")
            grid = bandwidth_grid_values(self.bandwidth_grid)
        report = callback if callback is not None else _ignore_progress
        if self.is_per_class:
            assert labels is not None
            return self._fit_per_class(data, labels, grid, shape, report)
        seconds: dict[str, float] = {}

        started = time.perf_counter()
        report("pca", 0.0)
        pca = PCA(n_components=self.n_components, whiten=self.whiten).fit(data)
        projected = pca.transform(data)
        seconds["pca"] = time.perf_counter() - started
        report("pca", 1.0)

        started = time.perf_counter()
        report("search", 0.0)
        cv_result = None
        if grid is not None:

            def fold_done(fold_index: int, n_folds: int) -> None:
                report("search", (fold_index + 1) / n_folds)

            cv_result = search_bandwidth(
                projected,
                grid,
                kernel=self.kernel,
                n_folds=int(self.cv_folds),
                random_state=np.random.default_rng(self.random_state),
                callback=fold_done,
                groups=labels,
            )
            bandwidth: float | BandwidthRule = float(cv_result.best_bandwidth)
        elif isinstance(self.bandwidth, str):
            bandwidth = cast(BandwidthRule, self.bandwidth)
        else:
            bandwidth = float(self.bandwidth)
        seconds["search"] = time.perf_counter() - started
        report("search", 1.0)

        started = time.perf_counter()
        report("fitting", 0.0)
        classes: NDArray[np.int64] | None = None
        priors: FloatArray | None = None
        if labels is None:
            kdes = [KernelDensity(bandwidth=bandwidth, kernel=self.kernel)]
            kdes[0].fit(projected)
            bandwidth_value = float(kdes[0].bandwidth_)
        else:
            classes, counts = np.unique(labels, return_counts=True)
            priors = counts / counts.sum()
            kdes = []
            for label in classes:
                kde = KernelDensity(bandwidth=bandwidth, kernel=self.kernel)
                kdes.append(kde.fit(projected[labels == label]))
            if isinstance(bandwidth, str):
                bandwidth_value = float(priors @ [kde.bandwidth_ for kde in kdes])
            else:
                # Exactly the shared value: a weighted mean could round it.
                bandwidth_value = bandwidth
        curve = None
        if self.match_intensities:
            rows = _intensity_rows(len(data))
            curve = fit_intensity_curve(
                pca.inverse_transform(projected[rows]), data[rows]
            )
        seconds["fitting"] = time.perf_counter() - started
        report("fitting", 1.0)
        return self._set_fitted(
            pcas=[pca],
            kdes=kdes,
            classes=classes,
            class_priors=priors,
            fitted_bandwidth=bandwidth_value,
            cv_result=cv_result,
            image_shape=shape,
            fit_seconds=seconds,
            intensity_curve=curve,
        )

    def _fit_per_class(
        self,
        data: FloatArray,
        labels: NDArray[np.int64],
        grid: FloatArray | None,
        shape: tuple[int, int],
        report: ProgressCallback,
    ) -> ImageGenerator:
        """`fit` for ``pca_scope="per_class"``: a PCA and a density per label."""
        seconds: dict[str, float] = {}
        classes, counts = np.unique(labels, return_counts=True)
        priors = counts / counts.sum()
        n_classes = len(classes)

        started = time.perf_counter()
        report("pca", 0.0)
        pcas: list[PCA] = []
        projections: list[FloatArray] = []
        for index, label in enumerate(classes):
            members = data[labels == label]
            pca = PCA(n_components=self.n_components, whiten=self.whiten)
            pcas.append(pca.fit(members))
            projections.append(pca.transform(members))
            report("pca", (index + 1) / n_classes)
        seconds["pca"] = time.perf_counter() - started

        started = time.perf_counter()
        report("search", 0.0)
        cv_results: list[CrossValidationResult] | None = None
        bandwidths: list[float | BandwidthRule]
        if grid is not None:
            rng = np.random.default_rng(self.random_state)
            cv_results = []
            for index, projected in enumerate(projections):

                def fold_done(
                    fold_index: int, n_folds: int, index: int = index
                ) -> None:
                    report(
                        "search",
                        (index * n_folds + fold_index + 1) / (n_classes * n_folds),
                    )

                cv_results.append(
                    search_bandwidth(
                        projected,
                        grid,
                        kernel=self.kernel,
                        n_folds=int(self.cv_folds),
                        random_state=rng,
                        callback=fold_done,
                    )
                )
            bandwidths = [float(result.best_bandwidth) for result in cv_results]
        elif isinstance(self.bandwidth, str):
            bandwidths = [cast(BandwidthRule, self.bandwidth)] * n_classes
        else:
            bandwidths = [float(self.bandwidth)] * n_classes
        seconds["search"] = time.perf_counter() - started
        report("search", 1.0)

        started = time.perf_counter()
        report("fitting", 0.0)
        kdes = [
            KernelDensity(bandwidth=bandwidth, kernel=self.kernel).fit(projected)
            for bandwidth, projected in zip(bandwidths, projections, strict=True)
        ]
        fitted = np.array([kde.bandwidth_ for kde in kdes], dtype=np.float64)
        # Exactly the shared value when there is one: a weighted mean could round it.
        bandwidth_value = (
            float(fitted[0]) if (fitted == fitted[0]).all() else float(priors @ fitted)
        )
        curve = None
        if self.match_intensities:
            # The same evenly spaced images as a shared model's, each
            # reconstructed through its own class's PCA.
            chosen = np.zeros(len(data), dtype=bool)
            chosen[_intensity_rows(len(data))] = True
            reconstructed = []
            originals = []
            for label, pca, projected in zip(classes, pcas, projections, strict=True):
                members = labels == label
                kept = chosen[members]
                reconstructed.append(pca.inverse_transform(projected[kept]))
                originals.append(data[members][kept])
            curve = fit_intensity_curve(
                np.concatenate(reconstructed), np.concatenate(originals)
            )
        seconds["fitting"] = time.perf_counter() - started
        report("fitting", 1.0)
        return self._set_fitted(
            pcas=pcas,
            kdes=kdes,
            classes=classes,
            class_priors=priors,
            fitted_bandwidth=bandwidth_value,
            cv_result=None,
            image_shape=shape,
            fit_seconds=seconds,
            class_cv_results=cv_results,
            intensity_curve=curve,
        )

    @classmethod
    def from_fitted(
        cls,
        params: Mapping[str, Any],
        *,
        pca: PCA | Sequence[PCA],
        kdes: Sequence[KernelDensity],
        classes: NDArray[np.int64] | None,
        class_priors: FloatArray | None,
        fitted_bandwidth: float,
        cv_result: CrossValidationResult | None,
        image_shape: tuple[int, int],
        fit_seconds: Mapping[str, float],
        class_cv_results: Sequence[CrossValidationResult] | None = None,
        intensity_curve: FloatArray | None = None,
    ) -> ImageGenerator:
        """A fitted model from its fitted parts (how `generator.io` rebuilds one).

        Parameters
        ----------
        params : Mapping
            The hyperparameters, as ``__init__`` takes them.
        pca : PCA or sequence of PCA
            Fitted on the flattened images: the shared one, or (per-class scope)
            one per class of ``classes``.
        kdes : sequence of KernelDensity
            Fitted in PCA space: one per class of ``classes``, or a single one.
        classes : ndarray of int64 or None
        class_priors : ndarray of float64 or None
            Both None for a model that is not class-conditional.
        fitted_bandwidth : float
            ``bandwidth_``.
        cv_result : CrossValidationResult or None
        image_shape : tuple of (int, int)
        fit_seconds : mapping of str to float
            The fitted attributes of the same names (with a trailing ``_``).
        class_cv_results : sequence of CrossValidationResult, optional
            ``class_cv_results_`` (per-class scope).
        intensity_curve : ndarray of shape (2, k), optional
            ``intensity_curve_`` (``match_intensities`` only).

        Returns
        -------
        ImageGenerator
            Samples and scores exactly like the model the parts came from.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).uniform(size=(30, 4))
        >>> model = ImageGenerator(n_components=2, bandwidth=0.1)
        >>> model = model.fit(X, image_shape=(2, 2))
        >>> copy = ImageGenerator.from_fitted(
        ...     {"n_components": 2, "bandwidth": 0.1}, pca=model.pca_,
        ...     kdes=model.kdes_, classes=None, class_priors=None,
        ...     fitted_bandwidth=model.bandwidth_, cv_result=None,
        ...     image_shape=(2, 2), fit_seconds={},
        ... )
        >>> same = copy.sample(3, random_state=0) == model.sample(3, random_state=0)
        >>> bool(same.all())
        True
        """
        return cls(**params)._set_fitted(
            pcas=[pca] if isinstance(pca, PCA) else list(pca),
            kdes=list(kdes),
            classes=classes,
            class_priors=class_priors,
            fitted_bandwidth=fitted_bandwidth,
            cv_result=cv_result,
            image_shape=image_shape,
            fit_seconds=dict(fit_seconds),
            class_cv_results=None
            if class_cv_results is None
            else list(class_cv_results),
            intensity_curve=intensity_curve,
        )

    def _set_fitted(
        self,
        *,
        pcas: list[PCA],
        kdes: list[KernelDensity],
        classes: NDArray[np.int64] | None,
        class_priors: FloatArray | None,
        fitted_bandwidth: float,
        cv_result: CrossValidationResult | None,
        image_shape: tuple[int, int],
        fit_seconds: dict[str, float],
        class_cv_results: list[CrossValidationResult] | None = None,
        intensity_curve: FloatArray | None = None,
    ) -> ImageGenerator:
        if (intensity_curve is not None) != self.match_intensities:
            raise ValueError(
                "a model has an intensity curve exactly when match_intensities is set"
            )
        if intensity_curve is not None:
            check_intensity_curve(intensity_curve)
        self.pcas_ = pcas
        self.kdes_ = kdes
        self.classes_ = classes
        self.class_priors_ = class_priors
        self.bandwidth_ = fitted_bandwidth
        self.kde_bandwidths_ = np.array(
            [kde.bandwidth_ for kde in kdes], dtype=np.float64
        )
        self.cv_result_ = cv_result
        self.class_cv_results_ = class_cv_results
        self.intensity_curve_ = intensity_curve
        self.image_shape_ = image_shape
        self.n_features_in_ = pcas[0].n_features_in_
        self.fit_seconds_ = fit_seconds
        return self

    def sample(
        self,
        n_samples: int = 1,
        *,
        digit: int | None = None,
        random_state: int | np.random.Generator | None = None,
        temperature: float | None = None,
    ) -> NDArray[np.uint8]:
        """Generate images.

        Parameters
        ----------
        n_samples : int, default=1
        digit : int, optional
            The label to generate (class-conditional models only). Without it, a
            class-conditional model draws each image's label from
            ``class_priors_``.
        random_state : int, numpy.random.Generator or None
            The same int gives the same images.
        temperature : float, optional
            The bandwidth scale at sampling: every kernel's bandwidth is
            multiplied by it before the kernel is sampled (the fitted bandwidths
            and the densities are unchanged). Below 1 stays closer to the
            training images (sharper, less novel), above 1 wanders further (more
            novel, blurrier). Default: the model's ``temperature``.

        Returns
        -------
        ndarray of uint8, shape (n_samples, height, width)
            Pixels in 0..255.

        Raises
        ------
        ValueError
            ``digit`` given to a model that is not class-conditional, or a label
            the model has not seen.
        """
        self.check_is_fitted()
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, numbers.Integral)
            or n_samples < 0
        ):
            raise ValueError(
                f"n_samples must be a non-negative integer, got {n_samples!r}"
            )
        temperature = self._sampling_temperature(temperature)
        count = int(n_samples)
        rng = np.random.default_rng(random_state)
        drawn = self._class_drawer(digit)(count, rng)
        pixels = np.empty((count, self.n_features_in_), dtype=np.float64)
        if self.is_per_class:
            # Each class's points live in its own PCA space.
            for index, pca in enumerate(self.pcas_):
                members = drawn == index
                points = self._sample_kde(index, int(members.sum()), rng, temperature)
                pixels[members] = pca.inverse_transform(points)
        else:
            projected = np.empty((count, self.pca_.n_components_), dtype=np.float64)
            for index in range(len(self.kdes_)):
                members = drawn == index
                projected[members] = self._sample_kde(
                    index, int(members.sum()), rng, temperature
                )
            pixels[:] = self.pca_.inverse_transform(projected)
        return self.render(pixels)

    def sample_seeds(
        self,
        seeds: Iterable[int],
        *,
        digit: int | None = None,
        temperature: float | None = None,
    ) -> NDArray[np.uint8]:
        """One image per seed: image ``i`` is, bit for bit,
        ``sample(1, digit=digit, random_state=seeds[i], temperature=temperature)[0]``.

        The same random draws and the same arithmetic per image, with the checks
        made once and no pass over the classes an image does not use: a gallery
        of per-image seeds in a fraction of the time of one `sample` call each.

        Parameters
        ----------
        seeds : iterable of int
        digit, temperature
            As for `sample`.

        Returns
        -------
        ndarray of uint8, shape (len(seeds), height, width)

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).uniform(size=(60, 16))
        >>> model = ImageGenerator(n_components=3, bandwidth=0.1)
        >>> model = model.fit(X, image_shape=(4, 4))
        >>> each = [model.sample(1, random_state=seed)[0] for seed in (3, 4)]
        >>> bool(np.array_equal(model.sample_seeds([3, 4]), np.stack(each)))
        True
        """
        self.check_is_fitted()
        temperature = self._sampling_temperature(temperature)
        seeds = list(seeds)
        pixels = np.empty((len(seeds), self.n_features_in_), dtype=np.float64)
        draw_class = self._class_drawer(digit)
        for row, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            index = int(draw_class(1, rng)[0])
            points = self.kdes_[index]._draw(1, rng, temperature)
            pca = self.pcas_[index if self.is_per_class else 0]
            pixels[row] = pca._restore(points)[0]
        return self.render(pixels)

    def _sampling_temperature(self, temperature: float | None) -> float:
        if temperature is None:
            temperature = self.temperature
        _check_temperature(temperature)
        return float(temperature)

    def _class_drawer(
        self, digit: int | None
    ) -> Callable[[int, np.random.Generator], NDArray[np.int64]]:
        """``draw(count, rng)``: each image's class index, the digit's, the only
        one, or drawn from the priors with ``rng``; checked and prepared once for
        all of `sample_seeds`' images."""
        if digit is not None:
            index = self._class_index(digit)
            return lambda count, rng: np.full(count, index)
        if self.classes_ is None:
            return lambda count, rng: np.zeros(count, dtype=np.int64)
        assert self.class_priors_ is not None
        # What rng.choice(len(classes_), size=count, p=class_priors_) draws, by
        # numpy's own algorithm for it, without checking the priors at every call.
        cdf = np.cumsum(self.class_priors_)
        cdf /= cdf[-1]

        def draw(count: int, rng: np.random.Generator) -> NDArray[np.int64]:
            drawn: NDArray[np.int64] = cdf.searchsorted(rng.random(count), side="right")
            return drawn

        return draw

    def render(self, pixels: FloatArray) -> NDArray[np.uint8]:
        """Images from the pixels of PCA points mapped back (the last step of `sample`).

        Parameters
        ----------
        pixels : ndarray of shape (n, height * width)
            What the PCA's ``inverse_transform`` returns, in units of [0, 1].

        Returns
        -------
        ndarray of uint8, shape (n, height, width)
            The pixels through the intensity curve (when the model has one),
            clipped to [0, 1] and quantised to 0..SAMPLE_PIXEL_MAX.
        """
        self.check_is_fitted()
        if self.intensity_curve_ is not None:
            pixels = apply_intensity_curve(self.intensity_curve_, pixels)
        clipped = np.clip(pixels, 0.0, 1.0)
        images = np.rint(clipped * SAMPLE_PIXEL_MAX).astype(np.uint8)
        return images.reshape((len(pixels), *self.image_shape_))

    def score_samples(self, X: ArrayLike) -> FloatArray:
        """Log density of each image under the model, in PCA space.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened images scaled to [0, 1].

        Returns
        -------
        ndarray of shape (n_samples,)
            ``log p(PCA(x))``; for a class-conditional model the mixture
            ``log sum_c prior_c p(PCA(x) | c)``, with each class's own PCA for
            the per-class scope (so each term is a density in its own class's
            space). ``-inf`` where a compact kernel gives zero density. In
            whitened units when ``whiten``.
        """
        self.check_is_fitted()
        if self.is_per_class:
            per_class = np.stack(
                [
                    kde.score_samples(pca.transform(X))
                    for pca, kde in zip(self.pcas_, self.kdes_, strict=True)
                ]
            )
        else:
            projected = self.pca_.transform(X)
            if self.classes_ is None:
                scores: FloatArray = self.kdes_[0].score_samples(projected)
                return scores
            per_class = np.stack([kde.score_samples(projected) for kde in self.kdes_])
        assert self.class_priors_ is not None
        with np.errstate(divide="ignore"):
            log_priors = np.log(self.class_priors_)[:, np.newaxis]
        return _log_sum_exp(per_class + log_priors)

    def score(self, X: ArrayLike) -> float:
        """Total log density of ``X`` (the sum of `score_samples`)."""
        return float(np.sum(self.score_samples(X)))

    def _class_index(self, digit: object) -> int:
        if self.classes_ is None:
            raise ValueError(
                "digit can only be requested from a class-conditional model; "
                "this one was trained with class_conditional=False"
            )
        known = ", ".join(str(label) for label in self.classes_)
        if isinstance(digit, bool) or not isinstance(digit, numbers.Integral):
            raise ValueError(f"digit must be an integer, one of {known}")
        matches = np.flatnonzero(self.classes_ == int(digit))
        if matches.size == 0:
            raise ValueError(f"unknown digit {digit}; this model knows {known}")
        return int(matches[0])

    def _sample_kde(
        self, index: int, count: int, rng: np.random.Generator, temperature: float
    ) -> FloatArray:
        if count == 0:
            width = self.pcas_[index if self.is_per_class else 0].n_components_
            return np.empty((0, width), dtype=np.float64)
        points: FloatArray = np.asarray(
            self.kdes_[index].sample(
                count, random_state=rng, temperature=float(temperature)
            ),
            dtype=np.float64,
        )
        return points

    def check_is_fitted(self) -> None:
        """Raise `NotFittedError` unless the model was fitted (or loaded)."""
        if not hasattr(self, "kdes_"):
            raise NotFittedError(
                "This ImageGenerator is not fitted yet; call fit() before using it"
            )


def _check_temperature(temperature: object) -> None:
    if isinstance(temperature, bool) or not (
        isinstance(temperature, numbers.Real)
        and math.isfinite(temperature)
        and float(temperature) > 0
    ):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")


def _intensity_rows(n_images: int) -> NDArray[np.int64]:
    """The training images (evenly spaced, at most MAX_INTENSITY_IMAGES) whose
    reconstructions fit the intensity curve."""
    count = min(n_images, MAX_INTENSITY_IMAGES)
    return np.linspace(0, n_images - 1, count).round().astype(np.int64)


def _log_sum_exp(terms: FloatArray) -> FloatArray:
    """``log(sum(exp(terms), axis=0))`` without overflow; all ``-inf`` -> ``-inf``."""
    largest = terms.max(axis=0)
    shift = np.where(np.isfinite(largest), largest, 0.0)
    with np.errstate(divide="ignore"):
        total: FloatArray = np.log(np.exp(terms - shift).sum(axis=0)) + shift
    return total


def _ignore_progress(phase: str, fraction: float) -> None:
    """The default progress callback."""
