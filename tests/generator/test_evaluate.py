from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from generator import evaluate
from generator.datasets import Dataset, load_dataset
from generator.evaluate import (
    DigitClassifier,
    class_entropy,
    classifier_cache_path,
    evaluate_images,
    evaluate_model,
    fit_classifier,
    load_classifier,
    nearest_neighbour_distances,
)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def digits_classifier(digits: Dataset) -> DigitClassifier:
    return fit_classifier(digits)


def _one_hot_dataset(pixel_max: int = 255) -> Dataset:
    """Ten 2x5 images, image k lit at pixel k only: one per class."""
    images = np.zeros((10, 2, 5), dtype=np.uint8)
    images.reshape(10, -1)[np.arange(10), np.arange(10)] = pixel_max
    labels = np.arange(10, dtype=np.int64)
    return Dataset(
        name="one-hot",
        images_train=images,
        labels_train=labels,
        images_test=images.copy(),
        labels_test=labels.copy(),
        pixel_max=pixel_max,
        digest="0" * 64,
    )


def _pixel_classifier(test_novelty: float = 1.5) -> DigitClassifier:
    """A one-layer softmax that picks the brightest pixel, very confidently."""
    return DigitClassifier(
        weights_=(np.eye(10, dtype=np.float32) * 50.0,),
        biases_=(np.zeros(10, dtype=np.float32),),
        classes_=np.arange(10, dtype=np.int64),
        image_shape_=(2, 5),
        pixel_max_=255,
        dataset_name_="one-hot",
        dataset_digest_="0" * 64,
        test_accuracy_=1.0,
        fit_seconds_=0.0,
        test_novelty_=test_novelty,
    )


def test_digits_accuracy_is_high(digits_classifier: DigitClassifier) -> None:
    assert digits_classifier.test_accuracy_ >= 0.93
    predicted = digits_classifier.predict(load_dataset("digits").images_test)
    assert predicted.dtype == np.int64
    assert digits_classifier.classes_.tolist() == list(range(10))


def test_numpy_forward_pass_matches_scikit_learn(digits: Dataset) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    network = MLPClassifier(hidden_layer_sizes=(16, 12), max_iter=30, random_state=3)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        network.fit(digits.features("train"), digits.labels_train)
    classifier = DigitClassifier(
        weights_=tuple(w.astype(np.float32) for w in network.coefs_),
        biases_=tuple(b.astype(np.float32) for b in network.intercepts_),
        classes_=network.classes_.astype(np.int64),
        image_shape_=digits.image_shape,
        pixel_max_=digits.pixel_max,
        dataset_name_="digits",
        dataset_digest_=digits.digest,
        test_accuracy_=0.0,
        fit_seconds_=0.0,
        test_novelty_=0.0,
    )
    expected = network.predict_proba(digits.features("test"))
    actual = classifier.predict_proba(digits.images_test)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    np.testing.assert_allclose(actual.sum(axis=1), 1.0)


def test_predict_proba_rescales_by_pixel_max(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    images = digits.images_test[:20]
    stretched = np.round(images.astype(np.float64) * 255 / 16).astype(np.uint8)
    np.testing.assert_allclose(
        digits_classifier.predict_proba(stretched, pixel_max=255),
        digits_classifier.predict_proba(images),
        atol=0.05,
    )


def test_predict_proba_refuses_wrong_shape_or_dtype(
    digits_classifier: DigitClassifier,
) -> None:
    with pytest.raises(ValueError, match="shape"):
        digits_classifier.predict_proba(np.zeros((3, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        digits_classifier.predict_proba(np.zeros((3, 8, 8), dtype=np.float64))


def test_cache_round_trip_does_not_refit(
    digits: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_classifier(digits, data_dir=tmp_path)
    path = classifier_cache_path(digits, data_dir=tmp_path)
    assert path.parent == tmp_path
    assert digits.digest[:16] in path.name
    modified = path.stat().st_mtime_ns

    def refuse(dataset: Dataset) -> DigitClassifier:
        raise AssertionError("the cached classifier was refitted")

    monkeypatch.setattr(evaluate, "fit_classifier", refuse)
    second = load_classifier(digits, data_dir=tmp_path)
    assert path.stat().st_mtime_ns == modified
    np.testing.assert_array_equal(
        second.predict_proba(digits.images_test),
        first.predict_proba(digits.images_test),
    )
    assert second.test_accuracy_ == first.test_accuracy_
    assert second.test_novelty_ == first.test_novelty_
    assert second.dataset_digest_ == digits.digest


def test_cache_is_plain_arrays_without_pickle(digits: Dataset, tmp_path: Path) -> None:
    load_classifier(digits, data_dir=tmp_path)
    path = classifier_cache_path(digits, data_dir=tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        for name in archive.files:
            assert archive[name].dtype != object
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_changed_dataset_refits_into_another_file(
    digits: Dataset, tmp_path: Path
) -> None:
    load_classifier(digits, data_dir=tmp_path)
    changed = Dataset(
        name=digits.name,
        images_train=digits.images_train[:-1],
        labels_train=digits.labels_train[:-1],
        images_test=digits.images_test,
        labels_test=digits.labels_test,
        pixel_max=digits.pixel_max,
        digest="f" * 64,
    )
    classifier = load_classifier(changed, data_dir=tmp_path)
    assert classifier.dataset_digest_ == "f" * 64
    assert len(list(tmp_path.glob("classifier-digits-*.npz"))) == 2


@pytest.mark.parametrize(
    "damage", [b"", b"not a zip file", b"PK\x03\x04truncated"], ids=repr
)
def test_damaged_cache_is_refitted(
    digits: Dataset, tmp_path: Path, damage: bytes
) -> None:
    path = classifier_cache_path(digits, data_dir=tmp_path)
    path.write_bytes(damage)
    classifier = load_classifier(digits, data_dir=tmp_path)
    assert classifier.test_accuracy_ >= 0.93
    assert path.stat().st_size > 1000
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_of_another_digest_is_not_trusted(
    digits: Dataset, tmp_path: Path
) -> None:
    load_classifier(digits, data_dir=tmp_path)
    path = classifier_cache_path(digits, data_dir=tmp_path)
    impostor = Dataset(
        name=digits.name,
        images_train=digits.images_train,
        labels_train=digits.labels_train,
        images_test=digits.images_test,
        labels_test=digits.labels_test,
        pixel_max=digits.pixel_max,
        # Same 16-digit prefix, so the same file name: the full digest inside
        # must still be checked.
        digest=digits.digest[:16] + "0" * 48,
    )
    assert classifier_cache_path(impostor, data_dir=tmp_path) == path
    assert load_classifier(impostor, data_dir=tmp_path).dataset_digest_ == (
        impostor.digest
    )


def test_default_cache_directory_follows_data_dir_env(
    digits: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", os.fspath(tmp_path))
    assert classifier_cache_path(digits).parent == tmp_path


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [
        ([7] * 10, math.log2(10)),
        ([3, 3], 1.0),
        ([0, 0, 12, 0], 0.0),
        ([1, 1, 2], 1.5),
        ([0, 0], 0.0),
    ],
)
def test_class_entropy(histogram: list[int], expected: float) -> None:
    assert class_entropy(histogram) == pytest.approx(expected, abs=1e-12)


def test_metrics_of_a_balanced_confident_set() -> None:
    dataset = _one_hot_dataset()
    classifier = _pixel_classifier(test_novelty=1.5)
    images = np.repeat(dataset.images_train, 3, axis=0)
    metrics = evaluate_images(images, dataset=dataset, classifier=classifier)
    assert metrics["n_images"] == 30
    assert metrics["class_histogram"] == [3] * 10
    assert metrics["classes"] == list(range(10))
    assert metrics["class_entropy"] == pytest.approx(math.log2(10))
    assert metrics["max_class_entropy"] == pytest.approx(math.log2(10))
    assert metrics["mean_confidence"] > 0.99
    assert metrics["confident_fraction"] == 1.0
    # Copies of training images are not novel at all.
    assert metrics["novelty"] == 0.0
    assert metrics["novelty_real_test"] == 1.5
    assert "digit_match_fraction" not in metrics


def test_metrics_of_a_single_class_unsure_set() -> None:
    dataset = _one_hot_dataset()
    classifier = _pixel_classifier()
    # Pixel 0 at full intensity and pixel 1 almost: class 0, but barely.
    images = np.zeros((4, 2, 5), dtype=np.uint8)
    images[:, 0, 0] = 255
    images[:, 0, 1] = 254
    metrics = evaluate_images(
        images, dataset=dataset, classifier=classifier, requested_digit=[0, 0, 1, 1]
    )
    assert metrics["class_histogram"] == [4] + [0] * 9
    assert metrics["class_entropy"] == 0.0
    assert 0.5 < metrics["mean_confidence"] < 0.6
    assert metrics["confident_fraction"] == 0.0
    assert metrics["digit_match_fraction"] == 0.5
    # Nearest training image is image 0 (pixel 0 lit): the only difference is
    # pixel 1 at 254/255.
    assert metrics["novelty"] == pytest.approx(254 / 255)


def test_requested_digit_as_a_single_int() -> None:
    dataset = _one_hot_dataset()
    metrics = evaluate_images(
        dataset.images_train[[7, 7, 7, 2]],
        dataset=dataset,
        classifier=_pixel_classifier(),
        requested_digit=7,
    )
    assert metrics["digit_match_fraction"] == 0.75


def test_generated_pixel_scale_is_honoured(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    stretched = np.round(
        digits.images_train[:30].astype(np.float64) * 255 / digits.pixel_max
    ).astype(np.uint8)
    metrics = evaluate_images(
        stretched, dataset=digits, classifier=digits_classifier, pixel_max=255
    )
    # Rounding to 1/255 steps moves each pixel by at most 0.5/255.
    assert metrics["novelty"] < 64**0.5 * 0.5 / 255 + 1e-12


def test_novelty_of_real_test_images_is_positive(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    metrics = evaluate_images(
        digits.images_test, dataset=digits, classifier=digits_classifier
    )
    assert metrics["novelty"] == pytest.approx(digits_classifier.test_novelty_)
    assert metrics["novelty"] > 0.5
    assert metrics["mean_confidence"] > 0.9
    assert metrics["class_entropy"] > 3.2


def _brute_force_nearest(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    result = np.empty(len(queries))
    for index, query in enumerate(queries):
        result[index] = min(
            math.sqrt(float(np.sum((query - row) ** 2))) for row in reference
        )
    return result


@pytest.mark.parametrize("chunk_size", [1, 7, 512])
def test_nearest_neighbour_distances_match_brute_force(chunk_size: int) -> None:
    rng = np.random.default_rng(5)
    reference = rng.random((60, 12))
    queries = np.vstack([rng.random((25, 12)), reference[:5]])
    distances = nearest_neighbour_distances(queries, reference, chunk_size=chunk_size)
    np.testing.assert_allclose(
        distances, _brute_force_nearest(queries, reference), rtol=1e-12
    )
    assert np.all(distances[-5:] == 0.0)


def test_nearest_neighbour_with_fewer_references_than_candidates() -> None:
    distances = nearest_neighbour_distances([[3.0, 4.0], [1.0, 0.0]], [[0.0, 0.0]])
    np.testing.assert_array_equal(distances, [5.0, 1.0])


def test_nearest_neighbour_refuses_mismatched_features() -> None:
    with pytest.raises(ValueError, match="features"):
        nearest_neighbour_distances(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="empty"):
        nearest_neighbour_distances(np.zeros((2, 3)), np.zeros((0, 3)))


def test_evaluate_images_refuses_bad_input(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    with pytest.raises(ValueError, match="no images"):
        evaluate_images(
            np.zeros((0, 8, 8), dtype=np.uint8),
            dataset=digits,
            classifier=digits_classifier,
        )
    with pytest.raises(ValueError, match="shape"):
        evaluate_images(
            np.zeros((2, 28, 28), dtype=np.uint8),
            dataset=digits,
            classifier=digits_classifier,
        )


def test_a_model_that_copies_its_training_set_has_novelty_near_zero(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    from generator.model import ImageGenerator

    # Every component and a vanishing bandwidth: each sample is a training image
    # (up to quantisation to 1/255 steps).
    copier = ImageGenerator(n_components=64, bandwidth=1e-6).fit(
        digits.features("train"), image_shape=digits.image_shape
    )
    metrics = evaluate_model(
        copier, digits, n_samples=300, random_state=0, classifier=digits_classifier
    )
    assert metrics["n_images"] == 300
    assert metrics["novelty"] < 0.05
    assert metrics["novelty_real_test"] > 0.5
    # Copies of real digits are classified like real digits.
    assert metrics["mean_confidence"] > 0.9
    assert "digit_match_fraction" not in metrics


def test_evaluate_model_reports_digit_match_for_conditional_models(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    from generator.model import ImageGenerator

    model = ImageGenerator(n_components=20, bandwidth=0.3, class_conditional=True).fit(
        digits.features("train"), digits.labels_train, image_shape=(8, 8)
    )
    first = evaluate_model(
        model, digits, n_samples=200, random_state=5, classifier=digits_classifier
    )
    again = evaluate_model(
        model, digits, n_samples=200, random_state=5, classifier=digits_classifier
    )
    assert first == again
    assert set(first["digit_match_by_digit"]) == {str(d) for d in range(10)}
    assert first["digit_match_fraction"] == pytest.approx(
        np.mean(list(first["digit_match_by_digit"].values()))
    )
    assert first["digit_match_fraction"] > 0.7
    assert sum(first["class_histogram"]) == 200


def test_evaluate_model_refuses_no_samples(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    from generator.model import ImageGenerator

    model = ImageGenerator(n_components=5, bandwidth=0.3).fit(
        digits.features("train"), image_shape=(8, 8)
    )
    with pytest.raises(ValueError, match="n_samples"):
        evaluate_model(model, digits, n_samples=0, classifier=digits_classifier)
