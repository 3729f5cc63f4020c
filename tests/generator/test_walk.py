from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pytest
from PIL import Image

from generator.model import ImageGenerator
from generator.render import frames_to_gif
from generator.walk import MAX_FRAMES, latent_walk, slerp


def reference_slerp(start: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """Textbook slerp of the directions, one frame at a time, norms lerped."""
    u, v = start / np.linalg.norm(start), end / np.linalg.norm(end)
    omega = math.acos(max(-1.0, min(1.0, float(u @ v))))
    rows = []
    for i in range(n):
        t = i / (n - 1)
        direction = (math.sin((1 - t) * omega) * u + math.sin(t * omega) * v) / (
            math.sin(omega)
        )
        norm = (1 - t) * np.linalg.norm(start) + t * np.linalg.norm(end)
        rows.append(direction * norm)
    return np.array(rows)


@pytest.mark.parametrize(
    ("dimension", "n_frames", "seed"), [(2, 2, 0), (5, 7, 1), (40, 64, 2)]
)
def test_slerp_matches_the_reference(dimension: int, n_frames: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    start, end = rng.normal(size=dimension), 3 * rng.normal(size=dimension)
    path = slerp(start, end, n_frames)
    assert path.shape == (n_frames, dimension)
    np.testing.assert_allclose(path, reference_slerp(start, end, n_frames), atol=1e-12)
    assert np.array_equal(path[0], start)
    assert np.array_equal(path[-1], end)


def test_slerp_moves_at_constant_angle_and_lerps_the_norm() -> None:
    rng = np.random.default_rng(3)
    start, end = rng.normal(size=10), rng.normal(size=10)
    path = slerp(start, end, 9)
    units = path / np.linalg.norm(path, axis=1, keepdims=True)
    steps = np.arccos(np.clip(np.sum(units[1:] * units[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(steps, steps[0])
    np.testing.assert_allclose(
        np.linalg.norm(path, axis=1),
        np.linspace(np.linalg.norm(start), np.linalg.norm(end), 9),
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ([0.0, 0.0], [1.0, 2.0]),  # from the origin
        ([1.0, 1.0], [2.0, 2.0]),  # parallel
        ([1.0, 0.0], [-1.0, 0.0]),  # opposite
    ],
)
def test_slerp_falls_back_to_a_straight_line(
    start: list[float], end: list[float]
) -> None:
    path = slerp(np.array(start), np.array(end), 5)
    expected = np.linspace(start, end, 5)
    np.testing.assert_allclose(path, expected)
    assert np.all(np.isfinite(path))


@pytest.mark.parametrize("n_frames", [0, 1, MAX_FRAMES + 1, 2.0, True, "3"])
def test_frame_counts_out_of_range_are_refused(n_frames: object) -> None:
    with pytest.raises(ValueError, match="n_frames must be an integer from 2 to 64"):
        slerp(np.zeros(2), np.ones(2), n_frames)  # type: ignore[arg-type]


def test_slerp_refuses_mismatched_points() -> None:
    with pytest.raises(ValueError, match="same length"):
        slerp(np.zeros(2), np.ones(3), 4)


def fitted(**params: object) -> ImageGenerator:
    from generator.datasets import load_dataset

    digits = load_dataset("digits")
    images = digits.images_train
    X = images.reshape(len(images), -1) / digits.pixel_max
    return ImageGenerator(**params).fit(X, image_shape=digits.image_shape)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model() -> ImageGenerator:
    return fitted(n_components=12, bandwidth=0.8)


@pytest.fixture(scope="module")
def whitened_model() -> ImageGenerator:
    return fitted(n_components=12, whiten=True, bandwidth=0.3)


def standardised(model: ImageGenerator, images: np.ndarray) -> np.ndarray:
    pca = model.pca_
    projected = pca.transform(images.reshape(len(images), -1) / 255)
    if pca.whiten:
        return projected
    return projected / np.sqrt(pca.explained_variance_)


@pytest.mark.parametrize("fixture", ["model", "whitened_model"])
def test_the_walk_runs_from_one_image_to_the_other(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(fixture)
    start, end = model.sample(2, random_state=4)
    frames = latent_walk(model, start, end, 16)
    assert (frames.shape, frames.dtype) == ((16, *model.image_shape_), np.uint8)
    # The reference: the textbook slerp between the ends' standardised
    # projections, mapped back to pixels.
    pca = model.pca_
    scale = np.ones(12) if pca.whiten else np.sqrt(pca.explained_variance_)
    ends = pca.transform(np.stack([start, end]).reshape(2, -1) / 255) / scale
    path = reference_slerp(ends[0], ends[1], 16) * scale
    pixels = np.clip(pca.inverse_transform(path), 0, 1).reshape(frames.shape)
    expected = np.rint(pixels * 255).astype(int)
    assert np.abs(frames.astype(int) - expected).max() <= 1
    # Neighbouring frames differ little: the walk is smooth.
    jumps = np.abs(np.diff(frames.astype(int), axis=0)).mean(axis=(1, 2))
    assert jumps.max() < 4 * np.median(jumps) + 1


def test_the_walk_keeps_to_the_typical_set_where_a_line_would_not(
    model: ImageGenerator,
) -> None:
    start, end = model.sample(2, random_state=11)
    ends = standardised(model, np.stack([start, end]))
    middle = standardised(model, latent_walk(model, start, end, 9)[4:5])[0]
    line_middle = ends.mean(axis=0)
    shell = np.linalg.norm(ends, axis=1).mean()
    assert abs(np.linalg.norm(middle) - shell) < 0.25 * shell
    assert np.linalg.norm(line_middle) < np.linalg.norm(middle)


def test_the_walk_is_deterministic(model: ImageGenerator) -> None:
    start, end = model.sample(2, random_state=5)
    assert np.array_equal(
        latent_walk(model, start, end, 8), latent_walk(model, start, end, 8)
    )


def test_end_images_of_another_size_are_refused(model: ImageGenerator) -> None:
    good = model.sample(1, random_state=0)[0]
    with pytest.raises(ValueError, match=r"end has shape \(28, 28\)"):
        latent_walk(model, good, np.zeros((28, 28), dtype=np.uint8), 4)
    with pytest.raises(ValueError, match="start must be a uint8"):
        latent_walk(model, good.astype(float), good, 4)  # type: ignore[arg-type]


def gif_frames(gif: bytes) -> tuple[list[np.ndarray], list[int], int]:
    picture = Image.open(io.BytesIO(gif))
    frames, durations = [], []
    for index in range(picture.n_frames):
        picture.seek(index)
        frames.append(np.asarray(picture.convert("L")))
        durations.append(picture.info["duration"])
    return frames, durations, picture.info["loop"]


def test_the_gif_plays_the_frames_forth_and_back_forever() -> None:
    frames = np.stack(
        [np.full((3, 2), value, dtype=np.uint8) for value in (0, 90, 180, 255)]
    )
    frames[1, 0, 0] = 200
    played, durations, loop = gif_frames(frames_to_gif(frames, scale=3, frame_ms=60))
    expected = [frames[i] for i in (0, 1, 2, 3, 2, 1)]
    assert len(played) == len(expected)
    for got, want in zip(played, expected, strict=True):
        assert np.array_equal(got, np.repeat(np.repeat(want, 3, 0), 3, 1))
    assert durations == [60] * 6
    assert loop == 0


def test_the_gif_is_deterministic_and_stretches_pixel_max() -> None:
    frames = np.stack([np.full((2, 2), value, dtype=np.uint8) for value in (0, 16)])
    gif = frames_to_gif(frames, pixel_max=16)
    assert gif == frames_to_gif(frames, pixel_max=16)
    played, _, _ = gif_frames(gif)
    assert played[1].max() == 255


@pytest.mark.parametrize(
    ("frames", "options", "message"),
    [
        (np.zeros((2, 2), dtype=np.uint8), {}, "frames must have shape"),
        (np.zeros((2, 2, 2)), {}, "dtype uint8"),
        (np.zeros((2, 2, 2), dtype=np.uint8), {"frame_ms": 10}, "frame_ms"),
        (np.zeros((2, 2, 2), dtype=np.uint8), {"scale": 0}, "scale"),
    ],
)
def test_the_gif_refuses_bad_input(
    frames: np.ndarray, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        frames_to_gif(frames, **options)


@pytest.fixture(scope="module")
def per_class_model() -> ImageGenerator:
    from generator.datasets import load_dataset

    digits = load_dataset("digits")
    X = digits.images_train.reshape(len(digits.images_train), -1) / digits.pixel_max
    return ImageGenerator(
        n_components=10,
        bandwidth=0.8,
        class_conditional=True,
        pca_scope="per_class",
    ).fit(X, digits.labels_train, image_shape=digits.image_shape)


def test_a_per_class_walk_cross_fades_between_the_ends_digit_spaces(
    per_class_model: ImageGenerator,
) -> None:
    start = per_class_model.sample(1, digit=2, random_state=1)[0]
    end = per_class_model.sample(1, digit=7, random_state=2)[0]
    frames = latent_walk(per_class_model, start, end, 9)
    assert frames.shape == (9, *per_class_model.image_shape_)

    def through(pca: Any) -> np.ndarray:
        scale = np.sqrt(pca.explained_variance_)
        ends = pca.transform(np.stack([start, end]).reshape(2, -1) / 255) / scale
        return pca.inverse_transform(reference_slerp(ends[0], ends[1], 9) * scale)

    t = np.linspace(0, 1, 9)[:, np.newaxis]
    first, last = per_class_model.pcas_[2], per_class_model.pcas_[7]
    pixels = np.clip((1 - t) * through(first) + t * through(last), 0, 1)
    expected = np.rint(pixels * 255).astype(int).reshape(frames.shape)
    assert np.abs(frames.astype(int) - expected).max() <= 1
    # The ends are each image as its own digit's PCA reconstructs it.
    own = first.inverse_transform(first.transform(start.reshape(1, -1) / 255))
    own_pixels = np.rint(np.clip(own, 0, 1) * 255).reshape(8, 8)
    assert np.abs(frames[0].astype(int) - own_pixels).max() <= 1
