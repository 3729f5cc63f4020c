from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from generator import classifier as classifier_module
from generator.classifier import (
    DigitClassifier,
    classifier_cache_path,
    load_classifier,
)
from generator.datasets import Dataset, load_dataset


def test_digits_accuracy_is_high(digits_classifier: DigitClassifier) -> None:
    assert digits_classifier.test_accuracy_ >= 0.93
    predicted = digits_classifier.predict(load_dataset("digits").images_test)
    assert predicted.dtype == np.int64
    assert digits_classifier.classes_.tolist() == list(range(10))


def test_numpy_forward_pass_matches_scikit_learn(digits: Dataset) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    network = MLPClassifier(hidden_layer_sizes=(16, 12), max_iter=30, random_state=3)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        network.fit(digits.features("train"), digits.labels_train)
    classifier = DigitClassifier(
        weights_=tuple(w.astype(np.float32) for w in network.coefs_),
        biases_=tuple(b.astype(np.float32) for b in network.intercepts_),
        classes_=network.classes_.astype(np.int64),
        image_shape_=digits.image_shape,
        pixel_max_=digits.pixel_max,
        dataset_name_="digits",
        dataset_digest_=digits.digest,
        test_accuracy_=0.0,
        fit_seconds_=0.0,
        test_novelty_=0.0,
    )
    expected = network.predict_proba(digits.features("test"))
    actual = classifier.predict_proba(digits.images_test)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    np.testing.assert_allclose(actual.sum(axis=1), 1.0)


def test_predict_proba_rescales_by_pixel_max(
    digits: Dataset, digits_classifier: DigitClassifier
) -> None:
    images = digits.images_test[:20]
    stretched = np.round(images.astype(np.float64) * 255 / 16).astype(np.uint8)
    np.testing.assert_allclose(
        digits_classifier.predict_proba(stretched, pixel_max=255),
        digits_classifier.predict_proba(images),
        atol=0.05,
    )


def test_predict_proba_refuses_wrong_shape_or_dtype(
    digits_classifier: DigitClassifier,
) -> None:
    with pytest.raises(ValueError, match="shape"):
        digits_classifier.predict_proba(np.zeros((3, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        digits_classifier.predict_proba(np.zeros((3, 8, 8), dtype=np.float64))


def test_cache_round_trip_does_not_refit(
    digits: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_classifier(digits, data_dir=tmp_path)
    path = classifier_cache_path(digits, data_dir=tmp_path)
    assert path.parent == tmp_path
    assert digits.digest[:16] in path.name
    modified = path.stat().st_mtime_ns

    def refuse(dataset: Dataset) -> DigitClassifier:
        raise AssertionError("the cached classifier was refitted")

    monkeypatch.setattr(classifier_module, "fit_classifier", refuse)
    second = load_classifier(digits, data_dir=tmp_path)
    assert path.stat().st_mtime_ns == modified
    np.testing.assert_array_equal(
        second.predict_proba(digits.images_test),
        first.predict_proba(digits.images_test),
    )
    assert second.test_accuracy_ == first.test_accuracy_
    assert second.test_novelty_ == first.test_novelty_
    assert second.dataset_digest_ == digits.digest


def test_cache_is_plain_arrays_without_pickle(digits: Dataset, tmp_path: Path) -> None:
    load_classifier(digits, data_dir=tmp_path)
    path = classifier_cache_path(digits, data_dir=tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        for name in archive.files:
            assert archive[name].dtype != object
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_changed_dataset_refits_into_another_file(
    digits: Dataset, tmp_path: Path
) -> None:
    load_classifier(digits, data_dir=tmp_path)
    changed = Dataset(
        name=digits.name,
        images_train=digits.images_train[:-1],
        labels_train=digits.labels_train[:-1],
        images_test=digits.images_test,
        labels_test=digits.labels_test,
        pixel_max=digits.pixel_max,
        digest="f" * 64,
    )
    classifier = load_classifier(changed, data_dir=tmp_path)
    assert classifier.dataset_digest_ == "f" * 64
    assert len(list(tmp_path.glob("classifier-digits-*.npz"))) == 2


@pytest.mark.parametrize(
    "damage", [b"", b"not a zip file", b"PK\x03\x04truncated"], ids=repr
)
def test_damaged_cache_is_refitted(
    digits: Dataset, tmp_path: Path, damage: bytes
) -> None:
    path = classifier_cache_path(digits, data_dir=tmp_path)
    path.write_bytes(damage)
    classifier = load_classifier(digits, data_dir=tmp_path)
    assert classifier.test_accuracy_ >= 0.93
    assert path.stat().st_size > 1000
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_of_another_digest_is_not_trusted(
    digits: Dataset, tmp_path: Path
) -> None:
    load_classifier(digits, data_dir=tmp_path)
    path = classifier_cache_path(digits, data_dir=tmp_path)
    impostor = Dataset(
        name=digits.name,
        images_train=digits.images_train,
        labels_train=digits.labels_train,
        images_test=digits.images_test,
        labels_test=digits.labels_test,
        pixel_max=digits.pixel_max,
        # Same 16-digit prefix, so the same file name: the full digest inside
        # must still be checked.
        digest=digits.digest[:16] + "0" * 48,
    )
    assert classifier_cache_path(impostor, data_dir=tmp_path) == path
    assert load_classifier(impostor, data_dir=tmp_path).dataset_digest_ == (
        impostor.digest
    )


def test_default_cache_directory_follows_data_dir_env(
    digits: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", os.fspath(tmp_path))
    assert classifier_cache_path(digits).parent == tmp_path
