from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from generator.datasets import (
    IDX_FILE_NAMES,
    MNIST_SHA256,
    dataset_digest,
    read_idx,
    write_idx,
)


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
@pytest.mark.parametrize("shape", [(5,), (3, 4, 5), (2, 1, 3, 2)])
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("as_path", [False, True])
def test_read_idx_round_trips_generated_arrays(
    tmp_path: Path,
    dtype: type[np.generic],
    shape: tuple[int, ...],
    compress: bool,
    as_path: bool,
) -> None:
    rng = np.random.default_rng(1)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    data = write_idx(array)
    if compress:
        data = gzip.compress(data)
    source: bytes | Path = data
    if as_path:
        source = tmp_path / "array.idx"
        source.write_bytes(data)

    result = read_idx(source)

    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable


def test_read_idx_parses_a_handwritten_big_endian_file() -> None:
    header = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 2)
    data = header + struct.pack(">4h", -2, 300, 7, -32768)

    result = read_idx(data)

    np.testing.assert_array_equal(result, [[-2, 300], [7, -32768]])
    assert result.dtype == np.int16


def test_write_idx_matches_the_published_layout() -> None:
    array = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    expected = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])

    assert write_idx(array) == expected


def test_write_idx_refuses_int64() -> None:
    with pytest.raises(ValueError, match="cannot store dtype int64"):
        write_idx(np.arange(3, dtype=np.int64))


def test_read_idx_detects_gzip_by_magic_not_by_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    compressed_without_suffix = tmp_path / "plain-name-idx2-ubyte"
    compressed_without_suffix.write_bytes(gzip.compress(write_idx(array)))
    plain_with_suffix = tmp_path / "misleading.gz"
    plain_with_suffix.write_bytes(write_idx(array))

    np.testing.assert_array_equal(read_idx(compressed_without_suffix), array)
    np.testing.assert_array_equal(read_idx(plain_with_suffix), array)


GOOD_HEADER = bytes([0, 0, 8, 1]) + struct.pack(">I", 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated IDX header"),
        (b"\x00\x00", "truncated IDX header"),
        (bytes([1, 0, 8, 1]) + struct.pack(">I", 3) + b"abc", "bad IDX magic"),
        (bytes([0, 7, 8, 1]) + struct.pack(">I", 3) + b"abc", "bad IDX magic"),
        (bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 3) + b"abc", "unknown IDX type"),
        (bytes([0, 0, 8, 0]), "zero dimensions"),
        (bytes([0, 0, 8, 3]) + struct.pack(">I", 3), "truncated IDX header"),
        (GOOD_HEADER + b"ab", "truncated IDX data"),
        (GOOD_HEADER + b"abcd", "1 trailing bytes"),
        (b"\x1f\x8b" + b"not really gzip", "corrupt gzip"),
        (gzip.compress(GOOD_HEADER + b"ab"), "truncated IDX data"),
        (gzip.compress(GOOD_HEADER + b"abc")[:-6], "corrupt gzip"),
    ],
)
def test_read_idx_rejects_malformed_data(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_idx(data)


def test_read_idx_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(GOOD_HEADER + b"a")

    with pytest.raises(ValueError, match="broken-idx1-ubyte: truncated IDX data"):
        read_idx(path)


def test_dataset_digest_hashes_the_file_digests_in_order() -> None:
    lines = "".join(f"{name} {MNIST_SHA256[name]}\n" for name in IDX_FILE_NAMES)

    assert dataset_digest(MNIST_SHA256) == hashlib.sha256(lines.encode()).hexdigest()
    shuffled = dict(reversed(list(MNIST_SHA256.items())))
    assert dataset_digest(shuffled) == dataset_digest(MNIST_SHA256)
