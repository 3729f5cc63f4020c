from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from generator.datasets import Dataset
from generator.kde import NotFittedError, estimate_bandwidth
from generator.model import ImageGenerator
from generator.search import bandwidth_grid_values

SHAPE = (8, 8)


@pytest.fixture(scope="module")
def features(digits: Dataset) -> np.ndarray:
    return digits.features("train")


@pytest.fixture(scope="module")
def labels(digits: Dataset) -> np.ndarray:
    return digits.labels_train


@pytest.fixture(scope="module")
def conditional(features: np.ndarray, labels: np.ndarray) -> ImageGenerator:
    model = ImageGenerator(
        n_components=15,
        bandwidth="cv",
        bandwidth_grid=(0.1, 1.0, 6),
        cv_folds=3,
        class_conditional=True,
        random_state=0,
    )
    return model.fit(features, labels, image_shape=SHAPE)


@pytest.fixture(scope="module")
def unconditional(features: np.ndarray) -> ImageGenerator:
    return ImageGenerator(n_components=15, bandwidth=0.3).fit(
        features, image_shape=SHAPE
    )


def class_means(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([features[labels == label].mean(axis=0) for label in range(10)])


def nearest_class(images: np.ndarray, means: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), -1) / 255.0
    distances = ((flat[:, np.newaxis, :] - means[np.newaxis]) ** 2).sum(axis=2)
    return np.argmin(distances, axis=1)


@pytest.mark.parametrize("n_samples", [0, 1, 37])
def test_samples_are_uint8_images(
    conditional: ImageGenerator, unconditional: ImageGenerator, n_samples: int
) -> None:
    for model in (conditional, unconditional):
        images = model.sample(n_samples, random_state=0)
        assert images.shape == (n_samples, *SHAPE)
        assert images.dtype == np.uint8


def test_fitted_attributes(conditional: ImageGenerator, labels: np.ndarray) -> None:
    assert conditional.image_shape_ == SHAPE
    assert conditional.n_features_in_ == 64
    assert conditional.pca_.n_components_ == 15
    assert conditional.classes_ is not None
    assert conditional.classes_.tolist() == list(range(10))
    assert conditional.class_priors_ is not None
    np.testing.assert_allclose(
        conditional.class_priors_, np.bincount(labels) / len(labels)
    )
    assert len(conditional.kdes_) == 10
    assert [len(kde.X_) for kde in conditional.kdes_] == np.bincount(labels).tolist()
    assert set(conditional.fit_seconds_) == {"pca", "search", "fitting"}


def test_pixels_are_the_clipped_rounded_reconstruction(
    unconditional: ImageGenerator,
) -> None:
    temperature = 3.0
    images = unconditional.sample(200, random_state=5, temperature=temperature)
    points = unconditional.kdes_[0].sample(
        200, random_state=np.random.default_rng(5), temperature=temperature
    )
    pixels = unconditional.pca_.inverse_transform(points)
    assert (pixels < 0).any()
    assert (pixels > 1).any()
    expected = np.rint(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    assert np.array_equal(images, expected.reshape(200, *SHAPE))
    assert images.min() == 0
    assert images.max() == 255


def test_same_random_state_gives_the_same_images(conditional: ImageGenerator) -> None:
    first = conditional.sample(50, random_state=3)
    assert np.array_equal(first, conditional.sample(50, random_state=3))
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(
        conditional.sample(50, digit=4, random_state=rng_a),
        conditional.sample(50, digit=4, random_state=rng_b),
    )
    assert not np.array_equal(first, conditional.sample(50, random_state=4))


def test_temperature_spreads_the_samples(unconditional: ImageGenerator) -> None:
    def spread(temperature: float) -> float:
        points = unconditional.pca_.transform(
            unconditional.sample(300, random_state=1, temperature=temperature).reshape(
                300, -1
            )
            / 255.0
        )
        training = unconditional.kdes_[0].X_
        distances = ((points[:, np.newaxis] - training[np.newaxis]) ** 2).sum(axis=2)
        return float(np.sqrt(distances.min(axis=1)).mean())

    assert spread(0.2) < spread(1.0) < spread(3.0)


@pytest.mark.parametrize("digit", range(10))
def test_samples_of_a_digit_resemble_that_digit(
    conditional: ImageGenerator,
    features: np.ndarray,
    labels: np.ndarray,
    digit: int,
) -> None:
    means = class_means(features, labels)
    images = conditional.sample(200, digit=digit, random_state=digit)
    flat = images.reshape(200, -1) / 255.0
    mean_distance = np.sqrt(
        ((flat[:, np.newaxis, :] - means[np.newaxis]) ** 2).sum(axis=2)
    ).mean(axis=0)
    assert np.argmin(mean_distance) == digit
    # Nearest-centroid is a weak classifier (0.65 for the worst digit and seed
    # seen); a model sampling the wrong class would score near 0.
    assert (nearest_class(images, means) == digit).mean() > 0.5


def test_sampling_without_a_digit_follows_the_label_mix(
    conditional: ImageGenerator, features: np.ndarray, labels: np.ndarray
) -> None:
    images = conditional.sample(1000, random_state=0)
    counts = np.bincount(
        nearest_class(images, class_means(features, labels)), minlength=10
    )
    # Digits are balanced, so every class should get a fair share.
    assert counts.min() > 40


def test_digit_on_an_unconditional_model_is_refused(
    unconditional: ImageGenerator,
) -> None:
    with pytest.raises(ValueError, match="class-conditional"):
        unconditional.sample(3, digit=1)


@pytest.mark.parametrize("digit", [10, -1, True, 2.0, "3"])
def test_unknown_digit_is_refused(conditional: ImageGenerator, digit: Any) -> None:
    with pytest.raises(ValueError, match="digit"):
        conditional.sample(3, digit=digit)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("n_samples", -1),
        ("n_samples", 2.0),
        ("temperature", 0.0),
        ("temperature", np.nan),
    ],
)
def test_bad_sampling_arguments_are_refused(
    unconditional: ImageGenerator, keyword: str, value: Any
) -> None:
    arguments: dict[str, Any] = {"n_samples": 2, keyword: value}
    with pytest.raises(ValueError, match=keyword):
        unconditional.sample(**arguments)


def test_unfitted_model_raises_not_fitted(features: np.ndarray) -> None:
    with pytest.raises(NotFittedError):
        ImageGenerator().sample(1)
    with pytest.raises(NotFittedError):
        ImageGenerator().score_samples(features[:2])


def test_mixture_density_equals_the_pooled_density(
    features: np.ndarray, labels: np.ndarray, unconditional: ImageGenerator
) -> None:
    # With priors equal to the label proportions and one bandwidth, the mixture of
    # per-class KDEs is exactly the KDE of all points.
    mixture = ImageGenerator(n_components=15, bandwidth=0.3, class_conditional=True)
    mixture.fit(features, labels, image_shape=SHAPE)
    queries = features[:100]
    np.testing.assert_allclose(
        mixture.score_samples(queries), unconditional.score_samples(queries), rtol=1e-10
    )


def test_score_samples_is_the_kde_density_in_pca_space(
    unconditional: ImageGenerator, features: np.ndarray
) -> None:
    queries = features[:20]
    expected = unconditional.kdes_[0].score_samples(
        unconditional.pca_.transform(queries)
    )
    np.testing.assert_array_equal(unconditional.score_samples(queries), expected)
    assert unconditional.score(queries) == pytest.approx(expected.sum())


def test_search_picks_the_best_bandwidth_of_the_grid(
    conditional: ImageGenerator,
) -> None:
    result = conditional.cv_result_
    assert result is not None
    np.testing.assert_allclose(result.bandwidths, bandwidth_grid_values((0.1, 1.0, 6)))
    assert result.fold_log_likelihood.shape == (3, 6)
    best = result.bandwidths[np.argmax(result.mean_log_likelihood)]
    assert conditional.bandwidth_ == best
    assert all(kde.bandwidth_ == best for kde in conditional.kdes_)


@pytest.mark.parametrize("rule", ["scott", "silverman"])
def test_rule_bandwidths_use_each_class_size(
    features: np.ndarray, labels: np.ndarray, rule: str
) -> None:
    model = ImageGenerator(n_components=5, bandwidth=rule, class_conditional=True)
    model.fit(features, labels, image_shape=SHAPE)
    expected = [
        estimate_bandwidth(rule, int(count), 5) for count in np.bincount(labels)
    ]
    np.testing.assert_allclose(model.kde_bandwidths_, expected)
    assert model.class_priors_ is not None
    assert model.bandwidth_ == pytest.approx(float(model.class_priors_ @ expected))
    assert model.cv_result_ is None


def test_fit_reports_phases_and_a_raising_callback_leaves_it_unfitted(
    features: np.ndarray,
) -> None:
    calls: list[tuple[str, float]] = []
    model = ImageGenerator(n_components=5, bandwidth_grid=(0.1, 1.0, 3), cv_folds=4)
    model.fit(features, image_shape=SHAPE, callback=lambda *call: calls.append(call))
    assert [phase for phase, _ in calls] == (
        ["pca"] * 2 + ["search"] * 6 + ["fitting"] * 2
    )
    assert [fraction for phase, fraction in calls if phase == "search"] == [
        0.0,
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
    ]

    class Stop(Exception):
        pass

    def stop_in_search(phase: str, fraction: float) -> None:
        if phase == "search" and fraction > 0:
            raise Stop

    fresh = ImageGenerator(n_components=5, bandwidth_grid=(0.1, 1.0, 3), cv_folds=4)
    with pytest.raises(Stop):
        fresh.fit(features, image_shape=SHAPE, callback=stop_in_search)
    with pytest.raises(NotFittedError):
        fresh.sample(1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"X": np.full((10, 64), 2.0)}, r"\[0, 1\]"),
        ({"image_shape": (8, 9)}, "image_shape"),
        ({"image_shape": (64,)}, "image_shape"),
        ({"y": None}, "labels"),
        ({"y": np.zeros(5, dtype=int)}, "shape"),
        ({"y": np.zeros(30)}, "integer"),
    ],
)
def test_bad_training_data_is_refused(
    features: np.ndarray, arguments: dict[str, Any], message: str
) -> None:
    call: dict[str, Any] = {
        "X": features[:30],
        "y": np.arange(30) % 3,
        "image_shape": SHAPE,
        **arguments,
    }
    model = ImageGenerator(n_components=2, bandwidth=0.5, class_conditional=True)
    with pytest.raises(ValueError, match=message):
        model.fit(call.pop("X"), call.pop("y"), **call)


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"kernel": "box"},
        {"bandwidth": -1.0},
        {"bandwidth": "auto"},
        {"cv_folds": 1},
        {"bandwidth_grid": (1.0, 0.1, 3)},
        {"bandwidth_grid": (0.1, 1.0, 0)},
    ],
)
def test_bad_hyperparameters_are_refused_by_fit(
    features: np.ndarray, hyperparameters: dict[str, Any]
) -> None:
    model = ImageGenerator(n_components=2, **hyperparameters)
    with pytest.raises(ValueError, match=r"kernel|bandwidth|cv_folds"):
        model.fit(features[:30], image_shape=SHAPE)


@pytest.mark.parametrize("kernel", ["tophat", "epanechnikov", "exponential", "cosine"])
def test_every_kernel_samples_images(features: np.ndarray, kernel: str) -> None:
    model = ImageGenerator(n_components=5, kernel=kernel, bandwidth=0.5)
    images = model.fit(features, image_shape=SHAPE).sample(10, random_state=0)
    assert images.shape == (10, *SHAPE)


def each_seeds_sample(
    model: ImageGenerator, seeds: range, **options: Any
) -> np.ndarray:
    return np.stack(
        [model.sample(1, random_state=seed, **options)[0] for seed in seeds]
    )


@pytest.mark.parametrize(
    "options", [{}, {"digit": 3}, {"temperature": 0.7}, {"digit": 0, "temperature": 2}]
)
def test_sample_seeds_gives_each_seeds_own_sample_bit_for_bit(
    conditional: ImageGenerator, options: dict[str, Any]
) -> None:
    seeds = range(40, 100)
    images = conditional.sample_seeds(seeds, **options)
    assert images.dtype == np.uint8
    assert np.array_equal(images, each_seeds_sample(conditional, seeds, **options))


@pytest.mark.parametrize("count", [1, 16])
def test_a_seed_draws_the_classes_numpys_choice_draws(
    conditional: ImageGenerator, count: int
) -> None:
    # A job row's seed reproduces its gallery: the classes drawn must stay
    # what rng.choice(p=class_priors_) drew, and leave the generator where it did.
    assert conditional.class_priors_ is not None
    for seed in range(300):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        drawn = conditional._class_drawer(None)(count, ours)
        expected = numpys.choice(
            len(conditional.class_priors_), size=count, p=conditional.class_priors_
        )
        assert np.array_equal(drawn, expected)
        assert drawn.dtype == expected.dtype
        assert ours.random() == numpys.random()


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov", "cosine"])
def test_sample_seeds_of_an_unconditional_model_match_too(
    features: np.ndarray, kernel: str
) -> None:
    model = ImageGenerator(n_components=5, kernel=kernel, bandwidth=0.5)
    model.fit(features, image_shape=SHAPE)
    seeds = range(7, 30)
    assert np.array_equal(model.sample_seeds(seeds), each_seeds_sample(model, seeds))
    assert model.sample_seeds([]).shape == (0, *SHAPE)


def test_sample_seeds_refuses_what_sample_refuses(
    unconditional: ImageGenerator,
) -> None:
    with pytest.raises(ValueError, match="class-conditional"):
        unconditional.sample_seeds([1], digit=3)
    with pytest.raises(ValueError, match="temperature"):
        unconditional.sample_seeds([1], temperature=0)
