"""Image data sets: real MNIST, Fashion-MNIST and scikit-learn's 8x8 digits.

One module per concern: `~generator.datasets.idx` (the IDX file codec),
`~generator.datasets.sources` (local directory, HTTPS mirrors, npm),
`~generator.datasets.cache` (the verified ``.npz`` cache),
`~generator.datasets.dataset` (the `Dataset` type) and
`~generator.datasets.catalog` (the named data sets and `load_dataset`).
"""

from __future__ import annotations

from generator.datasets.cache import DatasetUnavailable, default_data_dir
from generator.datasets.catalog import (
    DATASET_INFO,
    DATASET_NAMES,
    FASHION_MNIST_SHA256,
    MNIST_SHA256,
    Availability,
    DatasetInfo,
    dataset_availability,
    fetch_fashion_mnist,
    fetch_mnist,
    load_dataset,
)
from generator.datasets.dataset import Dataset
from generator.datasets.idx import IDX_FILE_NAMES, dataset_digest, read_idx, write_idx
from generator.datasets.sources import (
    DataSource,
    HTTPSource,
    LocalDirectorySource,
    NpmSource,
    SourceError,
    SourceLike,
    TarballSource,
    default_fashion_mnist_sources,
    default_mnist_sources,
)

__all__ = [
    "DATASET_INFO",
    "DATASET_NAMES",
    "FASHION_MNIST_SHA256",
    "IDX_FILE_NAMES",
    "MNIST_SHA256",
    "Availability",
    "DataSource",
    "Dataset",
    "DatasetInfo",
    "DatasetUnavailable",
    "HTTPSource",
    "LocalDirectorySource",
    "NpmSource",
    "SourceError",
    "SourceLike",
    "TarballSource",
    "dataset_availability",
    "dataset_digest",
    "default_data_dir",
    "default_fashion_mnist_sources",
    "default_mnist_sources",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "load_dataset",
    "read_idx",
    "write_idx",
]
