"""Score generated digit images: a cached classifier, class balance and novelty.

A small multilayer perceptron is fitted once per data set (scikit-learn's
``MLPClassifier``), its weights are exported to a plain ``.npz`` under the data
directory, and the forward pass runs in numpy, so no pickle is ever written or read.
The cache file name carries the data set digest: a changed data set refits.

Metrics on a batch of images (``evaluate_images``):

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

import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from generator.files import write_atomically
from generator.model import SAMPLE_PIXEL_MAX

if TYPE_CHECKING:
    from generator.datasets import Dataset
    from generator.model import ImageGenerator

__all__ = [
    "CLASSIFIER_FORMAT_VERSION",
    "CONFIDENT_THRESHOLD",
    "DigitClassifier",
    "class_entropy",
    "evaluate_images",
    "evaluate_model",
    "fit_classifier",
    "load_classifier",
    "nearest_neighbour_distances",
]

CLASSIFIER_FORMAT_VERSION = 1
CONFIDENT_THRESHOLD = 0.9

# Settled by measurement on 2 cores (see bench/README or the EVAL report): one
# hidden layer of 256 ReLU units and 10 Adam epochs reach ~98% on MNIST in ~10 s.
# Small data sets (digits: 1,438 images) need more epochs for the same number of
# weight updates, so the epoch budget scales with the training set size.
_HIDDEN_UNITS_LARGE = 256
_HIDDEN_UNITS_SMALL = 64
_SMALL_DATASET = 5_000
_EPOCHS_LARGE = 10
_EPOCHS_SMALL = 200
_BATCH_SIZE = 128
_L2_PENALTY = 1e-4
_CLASSIFIER_SEED = 0

# Rows of queries per chunk in the nearest neighbour search: 512 x 60,000 float32
# distances is ~120 MB, which bounds memory on the full MNIST training set.
_NEIGHBOUR_CHUNK = 512
# Candidates re-checked exactly in float64 after the float32 screening pass.
_NEIGHBOUR_CANDIDATES = 8


def _as_images(images: npt.ArrayLike, image_shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 2 and array.shape == image_shape:
        array = array[np.newaxis]
    if array.ndim != 3 or tuple(array.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"images must have shape (n, {image_shape[0]}, {image_shape[1]}), "
            f"got {array.shape}"
        )
    if array.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {array.dtype}")
    return array


@dataclass(frozen=True, eq=False)
class DigitClassifier:
    """A fitted multilayer perceptron (ReLU hidden layers, softmax output).

    Build one with ``load_classifier`` (cached) or ``fit_classifier``.

    Attributes
    ----------
    weights_ : tuple of numpy.ndarray of float32
        One ``(n_in, n_out)`` matrix per layer.
    biases_ : tuple of numpy.ndarray of float32
        One ``(n_out,)`` vector per layer.
    classes_ : numpy.ndarray of int64, shape (n_classes,)
    image_shape_ : tuple of int
        ``(h, w)`` of the images it classifies.
    pixel_max_ : int
        Pixel value that maps to 1.0 (255 for MNIST, 16 for digits).
    dataset_name_, dataset_digest_ : str
        The data set it was fitted on.
    test_accuracy_ : float
        Accuracy on the data set's test split.
    fit_seconds_ : float
        Wall time of the fit.
    test_novelty_ : float
        Median distance from each real test image to its nearest training image.
    """

    weights_: tuple[npt.NDArray[np.float32], ...]
    biases_: tuple[npt.NDArray[np.float32], ...]
    classes_: npt.NDArray[np.int64]
    image_shape_: tuple[int, int]
    pixel_max_: int
    dataset_name_: str
    dataset_digest_: str
    test_accuracy_: float
    fit_seconds_: float
    test_novelty_: float

    def predict_proba(
        self, images: npt.ArrayLike, *, pixel_max: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Class probabilities of uint8 images.

        Parameters
        ----------
        images : array_like of uint8, shape (n, h, w)
        pixel_max : int or None
            Pixel value of full intensity in ``images``; ``None`` means the data
            set's (``pixel_max_``).

        Returns
        -------
        numpy.ndarray of float64, shape (n, n_classes)
            Rows sum to 1; columns follow ``classes_``.

        Examples
        --------
        >>> from generator.datasets import load_dataset
        >>> data = load_dataset("digits")
        >>> classifier = fit_classifier(data)
        >>> classifier.predict_proba(data.images_test[:2]).shape
        (2, 10)
        """
        array = _as_images(images, self.image_shape_)
        scale = float(self.pixel_max_ if pixel_max is None else pixel_max)
        flat = array.reshape(array.shape[0], -1).astype(np.float32) / np.float32(scale)
        return self.predict_proba_features(flat)

    def predict_proba_features(
        self, features: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Class probabilities of flattened images already scaled to [0, 1].

        Parameters
        ----------
        features : array_like, shape (n, h * w)

        Returns
        -------
        numpy.ndarray of float64, shape (n, n_classes)
        """
        activation = np.asarray(features, dtype=np.float32)
        if activation.ndim != 2 or activation.shape[1] != self.weights_[0].shape[0]:
            raise ValueError(
                f"features must have shape (n, {self.weights_[0].shape[0]}), "
                f"got {activation.shape}"
            )
        last = len(self.weights_) - 1
        for index, (weight, bias) in enumerate(
            zip(self.weights_, self.biases_, strict=True)
        ):
            activation = activation @ weight + bias
            if index < last:
                np.maximum(activation, 0.0, out=activation)
        logits = activation.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict(
        self, images: npt.ArrayLike, *, pixel_max: int | None = None
    ) -> npt.NDArray[np.int64]:
        """Most probable class of each image.

        Parameters
        ----------
        images : array_like of uint8, shape (n, h, w)
        pixel_max : int or None
            As in ``predict_proba``.

        Returns
        -------
        numpy.ndarray of int64, shape (n,)
        """
        probabilities = self.predict_proba(images, pixel_max=pixel_max)
        predicted: npt.NDArray[np.int64] = self.classes_[
            np.argmax(probabilities, axis=1)
        ]
        return predicted


def nearest_neighbour_distances(
    queries: npt.ArrayLike,
    reference: npt.ArrayLike,
    *,
    chunk_size: int = _NEIGHBOUR_CHUNK,
) -> npt.NDArray[np.float64]:
    """Euclidean distance from each query row to its nearest reference row.

    Brute force from matrix products, in chunks of query rows to bound memory.

    Parameters
    ----------
    queries : array_like, shape (n, d)
    reference : array_like, shape (m, d)
    chunk_size : int
        Query rows per chunk.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)

    Examples
    --------
    >>> nearest_neighbour_distances([[0.0, 0.0], [3.0, 4.0]], [[0.0, 0.0]])
    array([0., 5.])
    """
    query_array = np.asarray(queries, dtype=np.float64)
    reference_array = np.asarray(reference, dtype=np.float64)
    if query_array.ndim != 2 or reference_array.ndim != 2:
        raise ValueError("queries and reference must be 2-D")
    if query_array.shape[1] != reference_array.shape[1]:
        raise ValueError(
            f"queries have {query_array.shape[1]} features, "
            f"reference has {reference_array.shape[1]}"
        )
    if reference_array.shape[0] == 0:
        raise ValueError("reference is empty")
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    # float32 halves the cost of the big product; its rounding (~1e-5 on squared
    # distances of order 10-100) can only reorder near-ties, so the few best
    # candidates are then re-measured exactly in float64 (a copy gives exactly 0).
    reference32 = reference_array.astype(np.float32)
    reference_norms = np.einsum("ij,ij->i", reference32, reference32)
    n_candidates = min(_NEIGHBOUR_CANDIDATES, reference_array.shape[0])
    result = np.empty(query_array.shape[0], dtype=np.float64)
    for start in range(0, query_array.shape[0], chunk_size):
        block = query_array[start : start + chunk_size]
        # |q - r|^2 = |q|^2 + |r|^2 - 2 q.r; |q|^2 is constant per row, so it is
        # not needed to rank the candidates.
        partial = reference_norms[np.newaxis, :] - 2.0 * (
            block.astype(np.float32) @ reference32.T
        )
        if n_candidates < reference_array.shape[0]:
            candidates = np.argpartition(partial, n_candidates - 1, axis=1)[
                :, :n_candidates
            ]
        else:
            candidates = np.broadcast_to(
                np.arange(reference_array.shape[0]), partial.shape
            )
        differences = reference_array[candidates] - block[:, np.newaxis, :]
        squared = np.einsum("ijk,ijk->ij", differences, differences)
        result[start : start + block.shape[0]] = np.sqrt(squared.min(axis=1))
    return result


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


def _classifier_shape(n_train: int) -> tuple[int, int]:
    if n_train < _SMALL_DATASET:
        return _HIDDEN_UNITS_SMALL, _EPOCHS_SMALL
    return _HIDDEN_UNITS_LARGE, _EPOCHS_LARGE


def fit_classifier(dataset: Dataset) -> DigitClassifier:
    """Fit the digit classifier on a data set (no caching; see ``load_classifier``).

    Parameters
    ----------
    dataset : generator.datasets.Dataset

    Returns
    -------
    DigitClassifier

    Examples
    --------
    >>> from generator.datasets import load_dataset
    >>> fit_classifier(load_dataset("digits")).test_accuracy_ > 0.9
    True
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    features = dataset.features("train").astype(np.float32)
    hidden_units, epochs = _classifier_shape(features.shape[0])
    network = MLPClassifier(
        hidden_layer_sizes=(hidden_units,),
        activation="relu",
        solver="adam",
        alpha=_L2_PENALTY,
        batch_size=_BATCH_SIZE,
        max_iter=epochs,
        random_state=_CLASSIFIER_SEED,
    )
    # One BLAS thread: mini-batch products are too small to gain from threads,
    # and when other processes share the cores OpenBLAS's spinning threads made
    # the MNIST fit ~9x slower (100 s instead of 11 s) and digits ~30x slower.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # A fixed epoch budget is the point: stopping short of "convergence" is
        # expected and not worth a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        network.fit(features, dataset.labels_train)
    classes = np.asarray(network.classes_, dtype=np.int64)
    if classes.shape[0] < 3:
        # MLPClassifier switches to a single logistic output for two classes,
        # which this forward pass does not implement.
        raise ValueError("the classifier needs at least three classes")
    fit_seconds = time.perf_counter() - start
    partial = DigitClassifier(
        weights_=tuple(np.asarray(w, dtype=np.float32) for w in network.coefs_),
        biases_=tuple(np.asarray(b, dtype=np.float32) for b in network.intercepts_),
        classes_=classes,
        image_shape_=dataset.image_shape,
        pixel_max_=int(dataset.pixel_max),
        dataset_name_=dataset.name,
        dataset_digest_=dataset.digest,
        test_accuracy_=0.0,
        fit_seconds_=fit_seconds,
        test_novelty_=0.0,
    )
    accuracy = float(
        np.mean(partial.predict(dataset.images_test) == dataset.labels_test)
    )
    test_novelty = float(
        np.median(
            nearest_neighbour_distances(
                dataset.features("test"), dataset.features("train")
            )
        )
    )
    return DigitClassifier(
        weights_=partial.weights_,
        biases_=partial.biases_,
        classes_=classes,
        image_shape_=partial.image_shape_,
        pixel_max_=partial.pixel_max_,
        dataset_name_=partial.dataset_name_,
        dataset_digest_=partial.dataset_digest_,
        test_accuracy_=accuracy,
        fit_seconds_=fit_seconds,
        test_novelty_=test_novelty,
    )


def classifier_cache_path(
    dataset: Dataset, *, data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Where ``load_classifier`` caches the classifier of a data set.

    Parameters
    ----------
    dataset : generator.datasets.Dataset
    data_dir : str, os.PathLike or None
        ``None`` means ``generator.datasets.default_data_dir()``.

    Returns
    -------
    pathlib.Path
        ``<data_dir>/classifier-<name>-<first 16 hex digits of the digest>.npz``.
    """
    if data_dir is None:
        from generator.datasets import default_data_dir

        directory = default_data_dir()
    else:
        directory = Path(data_dir)
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in dataset.name)
    return directory / f"classifier-{safe_name}-{dataset.digest[:16]}.npz"


def _save_classifier(classifier: DigitClassifier, path: Path) -> None:
    metadata = {
        "format_version": CLASSIFIER_FORMAT_VERSION,
        "n_layers": len(classifier.weights_),
        "image_shape": list(classifier.image_shape_),
        "pixel_max": classifier.pixel_max_,
        "dataset_name": classifier.dataset_name_,
        "dataset_digest": classifier.dataset_digest_,
        "test_accuracy": classifier.test_accuracy_,
        "fit_seconds": classifier.fit_seconds_,
        "test_novelty": classifier.test_novelty_,
    }
    arrays: dict[str, Any] = {
        "metadata": np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8),
        "classes": classifier.classes_,
    }
    for index, (weight, bias) in enumerate(
        zip(classifier.weights_, classifier.biases_, strict=True)
    ):
        arrays[f"weight_{index}"] = weight
        arrays[f"bias_{index}"] = bias
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(
        path, lambda stream: np.savez(stream, allow_pickle=False, **arrays)
    )


def _load_cached_classifier(path: Path, dataset: Dataset) -> DigitClassifier | None:
    """The cached classifier, or ``None`` when it is missing, stale or damaged."""
    try:
        return _read_classifier(path, dataset)
    except Exception:
        # Whatever the damage (truncated zip, bad JSON, wrong shapes), the cure is
        # the same: refit and overwrite.
        return None


def _read_classifier(path: Path, dataset: Dataset) -> DigitClassifier | None:
    with np.load(path, allow_pickle=False) as archive:
        metadata = json.loads(bytes(archive["metadata"]).decode())
        if metadata.get("format_version") != CLASSIFIER_FORMAT_VERSION:
            return None
        if metadata["dataset_digest"] != dataset.digest:
            return None
        n_layers = int(metadata["n_layers"])
        weights = tuple(
            np.asarray(archive[f"weight_{i}"], dtype=np.float32)
            for i in range(n_layers)
        )
        biases = tuple(
            np.asarray(archive[f"bias_{i}"], dtype=np.float32) for i in range(n_layers)
        )
        classes = np.asarray(archive["classes"], dtype=np.int64)
    image_shape = (int(metadata["image_shape"][0]), int(metadata["image_shape"][1]))
    if n_layers < 1 or image_shape != dataset.image_shape:
        return None
    expected_inputs = image_shape[0] * image_shape[1]
    for weight, bias in zip(weights, biases, strict=True):
        if (
            weight.ndim != 2
            or weight.shape[0] != expected_inputs
            or bias.shape != (weight.shape[1],)
        ):
            return None
        expected_inputs = weight.shape[1]
    if classes.shape != (weights[-1].shape[1],):
        return None
    return DigitClassifier(
        weights_=weights,
        biases_=biases,
        classes_=classes,
        image_shape_=image_shape,
        pixel_max_=int(metadata["pixel_max"]),
        dataset_name_=str(metadata["dataset_name"]),
        dataset_digest_=str(metadata["dataset_digest"]),
        test_accuracy_=float(metadata["test_accuracy"]),
        fit_seconds_=float(metadata["fit_seconds"]),
        test_novelty_=float(metadata["test_novelty"]),
    )


def load_classifier(
    dataset: Dataset, *, data_dir: str | os.PathLike[str] | None = None
) -> DigitClassifier:
    """The data set's classifier: loaded from the cache, or fitted and cached.

    The cache is a plain ``.npz`` (weights, biases, a JSON metadata entry) read
    with ``allow_pickle=False``; a missing, damaged or stale file (another data set
    digest, another format version) is refitted and overwritten.

    Parameters
    ----------
    dataset : generator.datasets.Dataset
    data_dir : str, os.PathLike or None
        Cache directory; ``None`` means ``generator.datasets.default_data_dir()``.

    Returns
    -------
    DigitClassifier

    Examples
    --------
    >>> import tempfile
    >>> from generator.datasets import load_dataset
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     classifier = load_classifier(load_dataset("digits"), data_dir=directory)
    >>> classifier.classes_.tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    path = classifier_cache_path(dataset, data_dir=data_dir)
    cached = _load_cached_classifier(path, dataset) if path.exists() else None
    if cached is not None:
        return cached
    classifier = fit_classifier(dataset)
    _save_classifier(classifier, path)
    return classifier


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
    >>> from generator.datasets import load_dataset
    >>> data = load_dataset("digits")
    >>> metrics = evaluate_images(
    ...     data.images_train[:50], dataset=data, classifier=fit_classifier(data)
    ... )
    >>> metrics["novelty"]
    0.0
    """
    array = _as_images(images, dataset.image_shape)
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
    temperature: float = 1.0,
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
    temperature : float
        Passed to ``model.sample``.

    Returns
    -------
    dict
        The metrics of ``evaluate_images``, plus ``classifier_test_accuracy``; a
        class-conditional model adds ``digit_match_fraction`` (over about
        ``n_samples`` extra images, an equal share per digit) and
        ``digit_match_by_digit``.

    Examples
    --------
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
    metrics["temperature"] = float(temperature)
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
