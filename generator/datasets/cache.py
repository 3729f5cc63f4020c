"""The verified cache of the IDX data sets (MNIST, Fashion-MNIST).

The four IDX files come from the first source that delivers them all with the
expected SHA-256 of the raw, uncompressed bytes; they are cached as one
uncompressed ``.npz`` file under the data directory, so later loads take a
fraction of a second. Loading the cache re-derives every file's digest.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.datasets.dataset import Dataset
from generator.datasets.idx import (
    IDX_ARRAY_KEYS,
    IDX_FILE_NAMES,
    dataset_digest,
    idx_sha256,
    read_idx,
)
from generator.datasets.sources import DataSource, SourceError, SourceLike, as_source
from generator.files import write_atomically

__all__ = [
    "DatasetUnavailable",
    "IdxDatasetSpec",
    "cache_path",
    "default_data_dir",
    "obtain",
]

_CACHE_FORMAT_VERSION = 1


class DatasetUnavailable(RuntimeError):
    """Every source of a data set failed.

    ``failures`` holds one ``(source description, reason)`` pair per source tried,
    in order; the message lists them all.
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures: list[tuple[str, str]] = list(failures)


@dataclass(frozen=True)
class IdxDatasetSpec:
    """A data set of four IDX files: its cache name, checksums and sources.

    Attributes
    ----------
    name : str
        Cache file stem and `Dataset` name.
    title : str
        Names the data set in error messages.
    pixel_max : int
    expected_sha256 : callable
        Returns the SHA-256 of each raw IDX file, keyed by ``IDX_FILE_NAMES``.
    default_sources : callable
        Returns the sources to try when the caller names none.
    hint : str
        How to make the data set available, appended to `DatasetUnavailable`.
    """

    name: str
    title: str
    pixel_max: int
    expected_sha256: Callable[[], Mapping[str, str]]
    default_sources: Callable[[], list[DataSource]]
    hint: str


class _CacheInvalid(Exception):
    pass


def default_data_dir() -> Path:
    """The data directory: env ``DATA_DIR``, else ``<repo>/data``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> isinstance(default_data_dir(), Path)
    True
    """
    configured = os.environ.get("DATA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "data"


def cache_path(spec: IdxDatasetSpec, data_dir: str | os.PathLike[str] | None) -> Path:
    """The data set's cache file: ``<data_dir>/<name>.npz``."""
    directory = default_data_dir() if data_dir is None else Path(data_dir)
    return directory / f"{spec.name}.npz"


def _parse_verified(
    raw: Mapping[str, bytes], expected: Mapping[str, str]
) -> dict[str, npt.NDArray[np.uint8]]:
    missing = [name for name in IDX_FILE_NAMES if name not in raw]
    if missing:
        raise SourceError(f"did not deliver {', '.join(missing)}")
    for name in IDX_FILE_NAMES:
        actual = hashlib.sha256(raw[name]).hexdigest()
        if actual != expected[name]:
            raise SourceError(
                f"SHA-256 mismatch for {name}: got {actual}, "
                f"expected {expected[name]}; refused"
            )
    arrays: dict[str, npt.NDArray[np.uint8]] = {}
    for name in IDX_FILE_NAMES:
        array = read_idx(raw[name])
        if array.dtype != np.uint8:
            raise SourceError(f"{name}: expected uint8 data, got {array.dtype}")
        arrays[IDX_ARRAY_KEYS[name]] = array.astype(np.uint8, copy=False)
    _check_split_shapes(arrays)
    return arrays


def _check_split_shapes(arrays: Mapping[str, npt.NDArray[np.generic]]) -> None:
    for split in ("train", "test"):
        images, labels = arrays[f"images_{split}"], arrays[f"labels_{split}"]
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(
                f"{split}: images must be (n, h, w) and labels (n,), got "
                f"{images.shape} and {labels.shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{split}: {images.shape[0]} images but {labels.shape[0]} labels"
            )
    if arrays["images_train"].shape[1:] != arrays["images_test"].shape[1:]:
        raise ValueError("train and test images differ in shape")


def _write_cache(
    path: Path,
    arrays: Mapping[str, npt.NDArray[np.uint8]],
    file_sha256: Mapping[str, str],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format_version": np.int64(_CACHE_FORMAT_VERSION),
        "file_names": np.array(IDX_FILE_NAMES),
        "file_sha256": np.array([file_sha256[n] for n in IDX_FILE_NAMES]),
        **arrays,
    }
    write_atomically(path, lambda stream: np.savez(stream, **payload))


def _load_cache(path: Path, spec: IdxDatasetSpec) -> Dataset:
    """Load a cache file, re-deriving each IDX file's SHA-256 from its array."""
    expected = spec.expected_sha256()
    if not path.is_file():
        raise _CacheInvalid(f"{path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in archive.files}
    # A damaged zip can fail in any of these ways; every one means "fetch again".
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise _CacheInvalid(f"{path} is unreadable: {exc}") from exc
    required = {"format_version", *(IDX_ARRAY_KEYS.values())}
    if not required <= contents.keys():
        raise _CacheInvalid(f"{path} lacks {sorted(required - contents.keys())}")
    version = contents["format_version"]
    if version.shape != () or version != _CACHE_FORMAT_VERSION:
        raise _CacheInvalid(f"{path} has another cache format version")
    arrays: dict[str, npt.NDArray[np.uint8]] = {}
    for key in IDX_ARRAY_KEYS.values():
        if contents[key].dtype != np.uint8:
            raise _CacheInvalid(f"{path}: {key} is not uint8")
        arrays[key] = contents[key]
    try:
        _check_split_shapes(arrays)
    except ValueError as exc:
        raise _CacheInvalid(f"{path}: {exc}") from exc
    # Rebuilding each raw IDX file's digest from the arrays (about 50 ms for MNIST)
    # proves the cache still holds exactly the verified files.
    for name, key in IDX_ARRAY_KEYS.items():
        if idx_sha256(arrays[key]) != expected[name]:
            raise _CacheInvalid(f"{path}: {key} does not match {name}'s SHA-256")
    return _dataset(spec, arrays)


def _dataset(
    spec: IdxDatasetSpec, arrays: Mapping[str, npt.NDArray[np.uint8]]
) -> Dataset:
    return Dataset(
        name=spec.name,
        images_train=arrays["images_train"],
        labels_train=arrays["labels_train"].astype(np.int64),
        images_test=arrays["images_test"],
        labels_test=arrays["labels_test"].astype(np.int64),
        pixel_max=spec.pixel_max,
        digest=dataset_digest(spec.expected_sha256()),
    )


def obtain(
    spec: IdxDatasetSpec,
    data_dir: str | os.PathLike[str] | None,
    sources: Sequence[SourceLike] | None,
    force: bool,
) -> tuple[Path, Dataset]:
    """The data set from its verified cache, fetched and cached first if needed.

    Parameters
    ----------
    spec : IdxDatasetSpec
    data_dir : str, os.PathLike or None
        Cache directory; ``None`` means ``default_data_dir()``.
    sources : sequence of DataSource, URL or directory, or None
        Tried in order; ``None`` means ``spec.default_sources()``.
    force : bool
        Fetch again even when a valid cache exists.

    Returns
    -------
    (pathlib.Path, Dataset)
        The cache file ``data_dir / "<name>.npz"`` and its contents.

    Raises
    ------
    DatasetUnavailable
        Every source failed; the message names each one and why.
    """
    cache = cache_path(spec, data_dir)
    if not force:
        try:
            return cache, _load_cache(cache, spec)
        except _CacheInvalid:
            pass
    expected = spec.expected_sha256()
    chosen = spec.default_sources() if sources is None else list(sources)
    failures: list[tuple[str, str]] = []
    for source_like in chosen:
        source = as_source(source_like)
        try:
            arrays = _parse_verified(source.fetch(IDX_FILE_NAMES), expected)
        # Whatever goes wrong with one source (network, npm, corrupt or tampered
        # files), the next source still deserves a try.
        except Exception as exc:
            failures.append((source.description, str(exc) or type(exc).__name__))
            continue
        _write_cache(cache, arrays, expected)
        return cache, _dataset(spec, arrays)
    tried = "".join(f"\n  - {where}: {why}" for where, why in failures) or (
        "\n  (no sources given)"
    )
    raise DatasetUnavailable(
        f"{spec.title} is unavailable; tried {len(failures)} source(s):{tried}\n"
        f"{spec.hint}",
        failures,
    )
