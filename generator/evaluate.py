"""Score generated digit images: classifier confidence, class balance and novelty.

The classifier is `generator.classifier.DigitClassifier`. Metrics on a batch of
images (``evaluate_images``):

- ``mean_confidence``: mean top-class probability of the classifier;
- ``confident_fraction``: fraction of images whose top-class probability is > 0.9;
- ``class_entropy``: entropy in bits of the predicted-class histogram
  (``log2(10) ~= 3.32`` is perfectly balanced, 0 is a single class);
- ``class_histogram``: predicted-class counts;
- ``digit_match_fraction``: fraction classified as the requested digit (only when
  one was requested);
- ``novelty``: median Euclidean distance (pixels scaled to [0, 1]) from each image
  to its nearest training image, and ``novelty_real_test``, the same figure for the
  real test images. A model that copies its training set scores near 0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from generator.classifier import DigitClassifier, as_images, load_classifier
from generator.model import SAMPLE_PIXEL_MAX
from generator.neighbours import nearest_neighbour_distances

if TYPE_CHECKING:
    from generator.datasets import Dataset
    from generator.model import ImageGenerator

__all__ = [
    "CONFIDENT_THRESHOLD",
    "class_entropy",
    "evaluate_images",
    "evaluate_model",
]

CONFIDENT_THRESHOLD = 0.9


def class_entropy(histogram: npt.ArrayLike) -> float:
    """Entropy in bits of a histogram of class counts.

    Parameters
    ----------
    histogram : array_like of int, shape (n_classes,)

    Returns
    -------
    float
        ``log2(n_classes)`` for a perfectly balanced histogram, 0 for one class.

    Examples
    --------
    >>> round(class_entropy([5] * 10), 4)
    3.3219
    >>> class_entropy([0, 7, 0])
    0.0
    """
    counts = np.asarray(histogram, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    probabilities = counts[counts > 0] / total
    return float(max(0.0, -(probabilities * np.log2(probabilities)).sum()))


def evaluate_images(
    images: npt.ArrayLike,
    *,
    dataset: Dataset,
    classifier: DigitClassifier,
    requested_digit: int | Sequence[int] | npt.NDArray[np.integer[Any]] | None = None,
    pixel_max: int | None = None,
) -> dict[str, Any]:
    """Classifier confidence, class balance and novelty of a batch of images.

    Parameters
    ----------
    images : array_like of uint8, shape (n, h, w)
    dataset : generator.datasets.Dataset
        Its training images are the reference for novelty.
    classifier : DigitClassifier
        Fitted on ``dataset`` (see ``load_classifier``).
    requested_digit : int, sequence of int or None
        The digit asked for (one for all images, or one per image); adds
        ``digit_match_fraction``.
    pixel_max : int or None
        Pixel value of full intensity in ``images``; ``None`` means the data set's.

    Returns
    -------
    dict
        JSON-able: ``n_images``, ``mean_confidence``, ``confident_fraction``,
        ``class_entropy`` (bits), ``max_class_entropy``, ``class_histogram``
        (counts, in ``classes`` order), ``classes``, ``novelty``,
        ``novelty_real_test`` and, with a requested digit, ``digit_match_fraction``.

    Examples
    --------
    >>> from generator.classifier import fit_classifier
    >>> from generator.datasets import load_dataset
    >>> data = load_dataset("digits")
    >>> metrics = evaluate_images(
    ...     data.images_train[:50], dataset=data, classifier=fit_classifier(data)
    ... )
    >>> metrics["novelty"]
    0.0
    """
    array = as_images(images, dataset.image_shape)
    if array.shape[0] == 0:
        raise ValueError("no images to evaluate")
    if tuple(classifier.image_shape_) != dataset.image_shape:
        raise ValueError("the classifier was fitted on images of another shape")
    scale = int(dataset.pixel_max if pixel_max is None else pixel_max)
    probabilities = classifier.predict_proba(array, pixel_max=scale)
    top = probabilities.max(axis=1)
    predicted = classifier.classes_[np.argmax(probabilities, axis=1)]
    histogram = np.array(
        [int(np.count_nonzero(predicted == label)) for label in classifier.classes_]
    )
    flat = array.reshape(array.shape[0], -1).astype(np.float64) / scale
    novelty = nearest_neighbour_distances(flat, dataset.features("train"))
    metrics: dict[str, Any] = {
        "n_images": int(array.shape[0]),
        "mean_confidence": float(top.mean()),
        "confident_fraction": float(np.mean(top > CONFIDENT_THRESHOLD)),
        "class_entropy": class_entropy(histogram),
        "max_class_entropy": math.log2(len(classifier.classes_)),
        "classes": [int(label) for label in classifier.classes_],
        "class_histogram": [int(count) for count in histogram],
        "novelty": float(np.median(novelty)),
        "novelty_real_test": float(classifier.test_novelty_),
    }
    if requested_digit is not None:
        requested = np.broadcast_to(
            np.asarray(requested_digit, dtype=np.int64), predicted.shape
        )
        metrics["digit_match_fraction"] = float(np.mean(predicted == requested))
    return metrics


def evaluate_model(
    model: ImageGenerator,
    dataset: Dataset,
    *,
    n_samples: int = 1000,
    random_state: int | np.random.Generator | None = 0,
    data_dir: str | os.PathLike[str] | None = None,
    classifier: DigitClassifier | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """Sample a fitted model and score the samples with ``evaluate_images``.

    Parameters
    ----------
    model : generator.model.ImageGenerator
        Fitted on ``dataset``.
    dataset : generator.datasets.Dataset
    n_samples : int
        Images drawn (without a digit, so a class-conditional model follows its
        class priors).
    random_state : int, numpy.random.Generator or None
    data_dir : str, os.PathLike or None
        Classifier cache directory (see ``load_classifier``).
    classifier : DigitClassifier or None
        ``None`` loads (or fits) the data set's classifier.
    temperature : float or None
        Passed to ``model.sample`` (None: the model's own).

    Returns
    -------
    dict
        The metrics of ``evaluate_images``, plus ``classifier_test_accuracy``; a
        class-conditional model adds ``digit_match_fraction`` (over about
        ``n_samples`` extra images, an equal share per digit) and
        ``digit_match_by_digit``.

    Examples
    --------
    >>> from generator.classifier import fit_classifier
    >>> from generator.datasets import load_dataset
    >>> from generator.model import ImageGenerator
    >>> data = load_dataset("digits")
    >>> model = ImageGenerator(n_components=20, bandwidth=1.0, random_state=0)
    >>> model = model.fit(data.features("train"), image_shape=data.image_shape)
    >>> metrics = evaluate_model(model, data, n_samples=100,
    ...                          classifier=fit_classifier(data))
    >>> metrics["n_images"]
    100
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if classifier is None:
        classifier = load_classifier(dataset, data_dir=data_dir)
    rng = np.random.default_rng(random_state)
    images = model.sample(n_samples, random_state=rng, temperature=temperature)
    metrics = evaluate_images(
        images, dataset=dataset, classifier=classifier, pixel_max=SAMPLE_PIXEL_MAX
    )
    metrics["classifier_test_accuracy"] = classifier.test_accuracy_
    metrics["temperature"] = float(
        model.temperature if temperature is None else temperature
    )
    model_classes = _conditional_classes(model)
    if model_classes is not None:
        per_digit = max(1, n_samples // len(model_classes))
        matches: dict[str, float] = {}
        total = 0.0
        for digit in model_classes:
            digit_images = model.sample(
                per_digit, digit=digit, random_state=rng, temperature=temperature
            )
            predicted = classifier.predict(digit_images, pixel_max=SAMPLE_PIXEL_MAX)
            matches[str(digit)] = float(np.mean(predicted == digit))
            total += matches[str(digit)]
        metrics["digit_match_fraction"] = total / len(model_classes)
        metrics["digit_match_by_digit"] = matches
    return metrics


def _conditional_classes(model: ImageGenerator) -> list[int] | None:
    if not getattr(model, "class_conditional", False):
        return None
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    return [int(label) for label in np.asarray(classes).tolist()]
