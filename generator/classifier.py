"""The digit classifier that scores generated images (see `generator.evaluate`).

A small multilayer perceptron is fitted once per data set (scikit-learn's
``MLPClassifier``), its weights are exported to a plain ``.npz`` under the data
directory, and the forward pass runs in numpy, so no pickle is ever written or read.
The cache file name carries the data set digest: a changed data set refits.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from generator.files import write_atomically
from generator.neighbours import nearest_neighbour_distances

if TYPE_CHECKING:
    from generator.datasets import Dataset

__all__ = [
    "CLASSIFIER_FORMAT_VERSION",
    "DigitClassifier",
    "as_images",
    "classifier_cache_path",
    "fit_classifier",
    "load_classifier",
]

CLASSIFIER_FORMAT_VERSION = 1

# Settled by measurement on 2 cores: one hidden layer of 256 ReLU units and 10
# Adam epochs reach ~98% on MNIST in ~10 s.
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


def as_images(images: npt.ArrayLike, image_shape: tuple[int, int]) -> np.ndarray:
    """``images`` as a uint8 array of shape ``(n, h, w)``; one ``(h, w)`` image too."""
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
        array = as_images(images, self.image_shape_)
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
