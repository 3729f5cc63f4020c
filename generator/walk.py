"""Latent walks: a smooth path between two images through a model's PCA space.

Both end images are projected into the model's PCA space and the path between
them is a spherical interpolation in *standardised* PCA coordinates (each
component divided by its standard deviation). Under the density the model
learnt, standardised points concentrate on a shell of radius about
``sqrt(n_components)``: a straight line between two of them dips through the
middle, where the blurry mean image lives, while the spherical path keeps each
frame on the shell, among the images the model would draw itself.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import NDArray

from generator.model import SAMPLE_PIXEL_MAX, ImageGenerator
from generator.pca import PCA

__all__ = ["MAX_FRAMES", "latent_walk", "slerp"]

FloatArray = NDArray[np.float64]

#: The longest walk: frames are stored as a gallery's images and shown as a strip.
MAX_FRAMES = 64

# Below this sine of the angle between the end points, the great circle is
# ill-defined (parallel or opposite directions): interpolate linearly instead.
_MIN_SINE = 1e-9
_MIN_VARIANCE = 1e-12


def slerp(start: FloatArray, end: FloatArray, n_frames: int) -> FloatArray:
    """Points from ``start`` to ``end`` along a great circle, ends included.

    Directions move at constant angular speed on the unit sphere while the
    norm goes linearly from ``|start|`` to ``|end|``.

    Parameters
    ----------
    start, end : ndarray of shape (n_features,)
    n_frames : int
        Number of points, at least 2.

    Returns
    -------
    ndarray of shape (n_frames, n_features)
        Row 0 is ``start`` and the last row ``end``. Linear interpolation when
        either end is the origin or the two are (anti)parallel.

    Examples
    --------
    >>> path = slerp(np.array([1.0, 0.0]), np.array([0.0, 2.0]), 3)
    >>> np.round(path, 3).tolist()
    [[1.0, 0.0], [1.061, 1.061], [0.0, 2.0]]
    """
    count = _check_frames(n_frames)
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(
            f"start and end must be 1-D of the same length, got {start.shape} "
            f"and {end.shape}"
        )
    t = np.linspace(0.0, 1.0, count)[:, np.newaxis]
    start_norm, end_norm = np.linalg.norm(start), np.linalg.norm(end)
    if start_norm == 0.0 or end_norm == 0.0:
        return (1.0 - t) * start + t * end
    start_direction, end_direction = start / start_norm, end / end_norm
    cosine = float(np.clip(start_direction @ end_direction, -1.0, 1.0))
    angle = np.arccos(cosine)
    sine = np.sin(angle)
    if sine < _MIN_SINE:
        return (1.0 - t) * start + t * end
    directions = (
        np.sin((1.0 - t) * angle) * start_direction + np.sin(t * angle) * end_direction
    ) / sine
    norms = (1.0 - t) * start_norm + t * end_norm
    path: FloatArray = directions * norms
    path[0], path[-1] = start, end
    return path


def latent_walk(
    model: ImageGenerator,
    start: NDArray[np.uint8],
    end: NDArray[np.uint8],
    n_frames: int,
) -> NDArray[np.uint8]:
    """The frames of a walk from one image to another through the model.

    Parameters
    ----------
    model : ImageGenerator
        A fitted model.
    start, end : ndarray of uint8, shape ``model.image_shape_``
        Pixels in 0..SAMPLE_PIXEL_MAX, as `ImageGenerator.sample` draws them
        (or any image of the model's size: it is projected into the model).
    n_frames : int
        2 to MAX_FRAMES.

    Returns
    -------
    ndarray of uint8, shape (n_frames, height, width)
        Frame 0 is ``start`` as the model's PCA sees it (its projection mapped
        back and rendered like a sample, `ImageGenerator.render`), the last
        frame likewise ``end``. A per-class model (one PCA per
        digit) walks in the space of the digit whose PCA reconstructs ``start``
        best and in that of ``end``'s, cross-fading from the first path to the
        second, so its ends are each image as its own digit's PCA sees it.

    Examples
    --------
    >>> X = np.random.default_rng(0).uniform(size=(60, 16))
    >>> model = ImageGenerator(n_components=3, bandwidth=0.1)
    >>> model = model.fit(X, image_shape=(4, 4))
    >>> a, b = model.sample(2, random_state=0)
    >>> latent_walk(model, a, b, 5).shape
    (5, 4, 4)
    """
    model.check_is_fitted()
    count = _check_frames(n_frames)
    ends = np.stack(
        [_check_image(start, model, "start"), _check_image(end, model, "end")]
    )
    flat = ends.reshape(2, -1) / SAMPLE_PIXEL_MAX
    if model.is_per_class:
        # Each digit has its own PCA space: walk in the start's digit's space and
        # in the end's, and cross-fade from the first path to the second.
        start_pca, end_pca = (_closest_pca(model, image) for image in flat)
        t = np.linspace(0.0, 1.0, count)[:, np.newaxis]
        pixels = (1.0 - t) * _walk_through(start_pca, flat, count) + t * (
            _walk_through(end_pca, flat, count)
        )
    else:
        pixels = _walk_through(model.pca_, flat, count)
    return model.render(pixels)


def _walk_through(pca: PCA, ends: FloatArray, count: int) -> FloatArray:
    """The pixels of the spherical path between two images in one PCA's space."""
    projected = pca.transform(ends)
    scale = _standard_deviations(pca)
    path = slerp(projected[0] / scale, projected[1] / scale, count) * scale
    pixels: FloatArray = pca.inverse_transform(path)
    return pixels


def _closest_pca(model: ImageGenerator, image: FloatArray) -> PCA:
    """The class PCA of a per-class model that reconstructs ``image`` best."""
    errors = [
        float(
            np.sum(
                (pca.inverse_transform(pca.transform(image[np.newaxis])) - image) ** 2
            )
        )
        for pca in model.pcas_
    ]
    return model.pcas_[int(np.argmin(errors))]


def _standard_deviations(pca: PCA) -> FloatArray:
    """Each PCA coordinate's standard deviation over the training images."""
    if pca.whiten:
        return np.ones(pca.n_components_, dtype=np.float64)
    # A kept component without variance (constant pixels) must not divide by 0.
    scale: FloatArray = np.sqrt(np.maximum(pca.explained_variance_, _MIN_VARIANCE))
    return scale


def _check_frames(n_frames: object) -> int:
    if (
        isinstance(n_frames, bool)
        or not isinstance(n_frames, numbers.Integral)
        or not 2 <= int(n_frames) <= MAX_FRAMES
    ):
        raise ValueError(
            f"n_frames must be an integer from 2 to {MAX_FRAMES}, got {n_frames!r}"
        )
    return int(n_frames)


def _check_image(image: object, model: ImageGenerator, name: str) -> NDArray[np.uint8]:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"{name} must be a uint8 numpy array")
    if image.shape != model.image_shape_:
        raise ValueError(
            f"{name} has shape {image.shape}, but the model makes images of shape "
            f"{model.image_shape_}"
        )
    return image
