"""The data set type: an image data set split into train and test parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image data set split into train and test parts.

    Attributes
    ----------
    name : str
        One of ``generator.datasets.DATASET_NAMES`` (or any name, for synthetic data
        in tests).
    images_train, images_test : numpy.ndarray of uint8, shape (n, h, w)
    labels_train, labels_test : numpy.ndarray of int64, shape (n,)
    pixel_max : int
        The largest possible pixel value (255 for MNIST, 16 for digits).
    digest : str
        SHA-256 hex digest identifying the exact data (see
        ``generator.datasets.dataset_digest``).

    Examples
    --------
    >>> from generator.datasets import load_dataset
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
