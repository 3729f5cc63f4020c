from __future__ import annotations

import numpy as np
import pytest

from generator.datasets import (
    Dataset,
)


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
