from __future__ import annotations

import math

import numpy as np
import pytest

from generator.classifier import (
    DigitClassifier,
)
from generator.datasets import Dataset
from generator.evaluate import class_entropy, evaluate_images, evaluate_model


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
