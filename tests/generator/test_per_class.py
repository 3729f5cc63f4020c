"""The per-class PCA mixture: ``ImageGenerator(pca_scope="per_class")``."""

from __future__ import annotations

import io

import numpy as np
import pytest

from generator.classifier import DigitClassifier
from generator.datasets import Dataset
from generator.evaluate import evaluate_model
from generator.io import FORMAT_VERSION, ModelFileError, load_model, save_model
from generator.model import SAMPLE_PIXEL_MAX, ImageGenerator
from generator.pca import PCA
from generator.search import cross_validate_bandwidth

SHAPE = (8, 8)
# Wide enough that the search leaves its widest bandwidths out (``exact``).
GRID = (0.1, 20.0, 10)


def per_class_model(**overrides: object) -> ImageGenerator:
    params: dict[str, object] = {
        "n_components": 0.8,
        "bandwidth": "cv",
        "bandwidth_grid": GRID,
        "cv_folds": 3,
        "class_conditional": True,
        "pca_scope": "per_class",
        "random_state": 0,
    }
    params.update(overrides)
    return ImageGenerator(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model(digits: Dataset) -> ImageGenerator:
    return per_class_model().fit(
        digits.features("train"), digits.labels_train, image_shape=SHAPE
    )


def test_each_class_has_its_own_pca_fitted_on_its_own_images(
    model: ImageGenerator, digits: Dataset
) -> None:
    features, labels = digits.features("train"), digits.labels_train
    assert model.classes_ is not None
    assert model.classes_.tolist() == list(range(10))
    assert len(model.pcas_) == len(model.kdes_) == 10
    for label, pca, kde in zip(model.classes_, model.pcas_, model.kdes_, strict=True):
        members = features[labels == label]
        reference = PCA(n_components=0.8).fit(members)
        np.testing.assert_allclose(pca.mean_, members.mean(axis=0))
        assert pca.n_components_ == reference.n_components_
        assert pca.explained_variance_ratio_.sum() >= 0.8
        np.testing.assert_allclose(kde.X_, pca.transform(members))
    # Digits vary differently: a variance fraction keeps a different count per class.
    assert len({pca.n_components_ for pca in model.pcas_}) > 1
    with pytest.raises(AttributeError, match="pcas_"):
        _ = model.pca_


def test_each_class_gets_its_own_cross_validated_bandwidth(
    model: ImageGenerator, digits: Dataset
) -> None:
    features, labels = digits.features("train"), digits.labels_train
    assert model.class_cv_results_ is not None
    assert model.classes_ is not None
    rng = np.random.default_rng(0)
    for index, label in enumerate(model.classes_):
        projected = model.pcas_[index].transform(features[labels == label])
        expected = cross_validate_bandwidth(
            projected,
            np.geomspace(*GRID[:2], GRID[2]),
            n_folds=3,
            random_state=rng,
        )
        assert model.kde_bandwidths_[index] == expected.best_bandwidth
        assert model.class_cv_results_[index].best_bandwidth == expected.best_bandwidth
    assert model.class_priors_ is not None
    assert model.bandwidth_ == pytest.approx(
        float(model.class_priors_ @ model.kde_bandwidths_)
    )


def test_sampling_a_digit_goes_back_through_that_digits_pca(
    model: ImageGenerator,
) -> None:
    images = model.sample(5, digit=4, random_state=3, temperature=1e-9)
    # A vanishing bandwidth returns (nearly) training points of class 4, mapped
    # back through class 4's PCA.
    pixels = images.reshape(5, -1) / SAMPLE_PIXEL_MAX
    reconstructions = np.clip(
        model.pcas_[4].inverse_transform(model.kdes_[4].X_), 0.0, 1.0
    )
    distances = np.abs(pixels[:, np.newaxis, :] - reconstructions).max(axis=2)
    assert (distances.min(axis=1) <= 0.5 / SAMPLE_PIXEL_MAX + 1e-9).all()


def test_unrequested_digits_follow_the_class_frequencies(
    model: ImageGenerator, digits_classifier: DigitClassifier
) -> None:
    images = model.sample(2000, random_state=1)
    predicted = digits_classifier.predict(images, pixel_max=SAMPLE_PIXEL_MAX)
    counts = np.bincount(predicted, minlength=10) / 2000
    assert model.class_priors_ is not None
    np.testing.assert_allclose(counts, model.class_priors_, atol=0.04)


def test_requested_digits_are_recognised(
    model: ImageGenerator, digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    metrics = evaluate_model(
        model, digits, n_samples=500, random_state=0, classifier=digits_classifier
    )
    assert metrics["digit_match_fraction"] >= 0.9


def test_sampling_is_deterministic_for_a_seed(model: ImageGenerator) -> None:
    first = model.sample(20, random_state=9)
    assert np.array_equal(first, model.sample(20, random_state=9))
    assert not np.array_equal(first, model.sample(20, random_state=10))


def test_save_and_load_round_trip(model: ImageGenerator, digits: Dataset) -> None:
    buffer = io.BytesIO()
    save_model(model, buffer, metadata={"note": "per class"})
    loaded, metadata = load_model(buffer.getvalue())
    # Without an intensity curve, still version 2, which older software reads.
    assert metadata["format_version"] == 2 < FORMAT_VERSION
    assert loaded.pca_scope == "per_class"
    for digit in (None, 0, 7):
        assert np.array_equal(
            loaded.sample(25, digit=digit, random_state=4),
            model.sample(25, digit=digit, random_state=4),
        )
    queries = digits.features("test")[:40]
    assert np.array_equal(loaded.score_samples(queries), model.score_samples(queries))
    for mine, theirs in zip(loaded.pcas_, model.pcas_, strict=True):
        assert np.array_equal(mine.components_, theirs.components_)
        assert np.array_equal(mine.mean_, theirs.mean_)
    assert np.array_equal(loaded.kde_bandwidths_, model.kde_bandwidths_)
    assert loaded.class_cv_results_ is not None
    assert model.class_cv_results_ is not None
    for mine_cv, theirs_cv in zip(
        loaded.class_cv_results_, model.class_cv_results_, strict=True
    ):
        assert np.array_equal(
            mine_cv.fold_log_likelihood, theirs_cv.fold_log_likelihood
        )
        if theirs_cv.exact is None:
            assert mine_cv.exact is None
        else:
            assert mine_cv.exact is not None
            assert np.array_equal(mine_cv.exact, theirs_cv.exact)


def test_a_file_missing_the_per_class_component_counts_is_refused(
    model: ImageGenerator,
) -> None:
    buffer = io.BytesIO()
    save_model(model, buffer, metadata={})
    with np.load(io.BytesIO(buffer.getvalue())) as archive:
        arrays = {name: archive[name] for name in archive.files}
    del arrays["pca_component_counts"]
    damaged = io.BytesIO()
    np.savez(damaged, **arrays)
    with pytest.raises(ModelFileError, match="pca_component_counts"):
        load_model(damaged.getvalue())


def test_a_file_with_values_in_the_padding_is_refused(model: ImageGenerator) -> None:
    buffer = io.BytesIO()
    save_model(model, buffer, metadata={})
    with np.load(io.BytesIO(buffer.getvalue())) as archive:
        arrays = {name: archive[name] for name in archive.files}
    narrowest = int(np.argmin(arrays["pca_component_counts"]))
    row = int(arrays["kde_counts"][:narrowest].sum())
    arrays["kde_points"][row, -1] = 1.0
    damaged = io.BytesIO()
    np.savez(damaged, **arrays)
    with pytest.raises(ModelFileError, match="padding"):
        load_model(damaged.getvalue())


@pytest.mark.parametrize("bandwidth", [0.4, "scott"])
def test_fixed_bandwidths_and_rules_need_no_search(
    digits: Dataset, bandwidth: float | str
) -> None:
    fitted = per_class_model(n_components=6, bandwidth=bandwidth).fit(
        digits.features("train"), digits.labels_train, image_shape=SHAPE
    )
    assert fitted.class_cv_results_ is None
    assert [pca.n_components_ for pca in fitted.pcas_] == [6] * 10
    if bandwidth == 0.4:
        assert fitted.bandwidth_ == 0.4
        assert (fitted.kde_bandwidths_ == 0.4).all()
    buffer = io.BytesIO()
    save_model(fitted, buffer, metadata={})
    loaded, _ = load_model(buffer.getvalue())
    assert np.array_equal(
        loaded.sample(10, random_state=0), fitted.sample(10, random_state=0)
    )


def test_per_class_scope_needs_labels_and_class_conditional(digits: Dataset) -> None:
    features = digits.features("train")
    with pytest.raises(ValueError, match="class_conditional=True"):
        per_class_model(class_conditional=False).fit(features, image_shape=SHAPE)
    with pytest.raises(ValueError, match="pca_scope"):
        per_class_model(pca_scope="everywhere").fit(
            features, digits.labels_train, image_shape=SHAPE
        )


def test_the_model_temperature_is_the_sampling_default(digits: Dataset) -> None:
    features, labels = digits.features("train"), digits.labels_train
    warm = per_class_model(n_components=6, bandwidth=0.4, temperature=1.7).fit(
        features, labels, image_shape=SHAPE
    )
    assert np.array_equal(
        warm.sample(8, random_state=2), warm.sample(8, random_state=2, temperature=1.7)
    )
    assert not np.array_equal(
        warm.sample(8, random_state=2), warm.sample(8, random_state=2, temperature=1.0)
    )
    buffer = io.BytesIO()
    save_model(warm, buffer, metadata={})
    assert load_model(buffer.getvalue())[0].temperature == 1.7


def test_sample_seeds_gives_each_seeds_own_sample_bit_for_bit(
    model: ImageGenerator,
) -> None:
    seeds = range(3, 50)
    for digit in (None, 5):
        each = [model.sample(1, digit=digit, random_state=seed)[0] for seed in seeds]
        assert np.array_equal(model.sample_seeds(seeds, digit=digit), np.stack(each))
