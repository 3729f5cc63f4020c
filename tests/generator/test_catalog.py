from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from generator.datasets import (
    DATASET_INFO,
    DATASET_NAMES,
    MNIST_SHA256,
    DatasetUnavailable,
    LocalDirectorySource,
    catalog,
    dataset_availability,
    dataset_digest,
    default_data_dir,
    fetch_fashion_mnist,
    fetch_mnist,
    load_dataset,
    sources,
    write_idx,
)
from tests.generator.idx_files import (
    hashes_of,
    write_dir,
)

MNIST_TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


MNIST_TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_load_dataset_fetches_from_mnist_dir(
    tmp_path: Path, fake_mnist: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_DIR", str(write_dir(tmp_path / "env", fake_mnist)))

    data = load_dataset("mnist", data_dir=tmp_path / "data")

    assert data.name == "mnist"
    assert (tmp_path / "data" / "mnist.npz").is_file()
    assert data.digest == dataset_digest(hashes_of(fake_mnist))


def test_fashion_mnist_uses_its_own_checksums(
    tmp_path: Path, raw_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_dir(tmp_path / "fashion", raw_files)

    with pytest.raises(DatasetUnavailable, match="SHA-256 mismatch"):
        fetch_fashion_mnist(tmp_path / "data", sources=[source])

    monkeypatch.setattr(catalog, "FASHION_MNIST_SHA256", hashes_of(raw_files))
    monkeypatch.setenv("FASHION_MNIST_DIR", str(source))
    data = load_dataset("fashion-mnist", data_dir=tmp_path / "data")
    assert data.name == "fashion-mnist"
    assert (tmp_path / "data" / "fashion-mnist.npz").is_file()


def test_fashion_mnist_error_explains_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")

    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("fashion-mnist", data_dir=tmp_path / "data")

    message = str(caught.value)
    assert "not configured (set FASHION_MNIST_DIR)" in message
    assert f"local directory {tmp_path / 'absent'}: directory does not exist" in (
        message
    )
    assert "apt-get install dataset-fashion-mnist" in message


def test_availability_says_where_a_data_set_would_come_from(
    tmp_path: Path, raw_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")
    data_dir = tmp_path / "data"

    missing = dataset_availability("fashion-mnist", data_dir=data_dir)
    assert missing.state == "unavailable"
    assert "not configured (set FASHION_MNIST_DIR)" in missing.detail
    assert "apt-get install dataset-fashion-mnist" in missing.detail

    source = write_dir(tmp_path / "fashion", raw_files)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(source))
    assert dataset_availability("fashion-mnist", data_dir=data_dir) == (
        catalog.Availability("fetchable", f"Read from {source} on first use.")
    )

    monkeypatch.setattr(catalog, "FASHION_MNIST_SHA256", hashes_of(raw_files))
    load_dataset("fashion-mnist", data_dir=data_dir)
    monkeypatch.delenv("FASHION_MNIST_DIR")
    assert dataset_availability("fashion-mnist", data_dir=data_dir) == (
        catalog.Availability("available", f"Cached in {data_dir}.")
    )


def test_mnist_without_a_cache_would_be_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MNIST_DIR", raising=False)
    availability = dataset_availability("mnist", data_dir=tmp_path)
    assert availability.state == "fetchable"
    assert availability.detail.startswith("Downloaded on first use (mirror https://")
    assert dataset_availability("digits").state == "available"
    with pytest.raises(ValueError, match="unknown data set"):
        dataset_availability("emnist")


def test_unknown_dataset_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown data set 'emnist'"):
        load_dataset("emnist")


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

    data = load_dataset("mnist", data_dir=data_dir)

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
