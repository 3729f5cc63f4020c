"""The IDX file format of MNIST-style data sets: parsing, encoding and digests.

An IDX file is a big-endian header (two zero bytes, a type code, the number of
dimensions, then each dimension as a 32-bit integer) followed by the raw array.
Files may arrive gzip-compressed; compression is recognised by its magic bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "IDX_ARRAY_KEYS",
    "IDX_FILE_NAMES",
    "MAX_FILE_BYTES",
    "dataset_digest",
    "decompress",
    "idx_sha256",
    "read_file_limited",
    "read_idx",
    "write_idx",
]

#: The four IDX files of an MNIST-format data set, in a fixed order.
IDX_FILE_NAMES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: The `generator.datasets.Dataset` array each IDX file holds.
IDX_ARRAY_KEYS: dict[str, str] = {
    "train-images-idx3-ubyte": "images_train",
    "train-labels-idx1-ubyte": "labels_train",
    "t10k-images-idx3-ubyte": "images_test",
    "t10k-labels-idx1-ubyte": "labels_test",
}

# The largest MNIST file is 47 MB; the cap stops a hostile mirror or a gzip bomb
# from filling memory.
MAX_FILE_BYTES = 256 * 1024 * 1024

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


def _gunzip(data: bytes, what: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{what}: corrupt gzip data ({exc})") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{what}: decompresses to more than {MAX_FILE_BYTES} bytes")
    return raw


def decompress(data: bytes, what: str) -> bytes:
    """Return raw IDX bytes, gunzipping when the gzip magic is present.

    ``what`` names the data in error messages; corrupt gzip data, or more than
    ``MAX_FILE_BYTES`` once decompressed, raises ``ValueError``.
    """
    if data[:2] == _GZIP_MAGIC:
        return _gunzip(data, what)
    return data


def read_file_limited(path: Path) -> bytes:
    """A file's bytes; ``ValueError`` when it holds more than ``MAX_FILE_BYTES``."""
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
        data = read_file_limited(Path(path_or_bytes))
    data = decompress(data, what)

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


def idx_sha256(array: npt.NDArray[np.generic]) -> str:
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
    Examples
    --------
    >>> from generator.datasets.catalog import MNIST_SHA256
    >>> dataset_digest(MNIST_SHA256)[:16]
    '42fba4f787e0b19e'
    """
    lines = "".join(f"{name} {file_sha256[name]}\n" for name in IDX_FILE_NAMES)
    return hashlib.sha256(lines.encode("ascii")).hexdigest()
