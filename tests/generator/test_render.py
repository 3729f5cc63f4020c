from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from generator.render import MAX_OUTPUT_PIXELS, grid_to_png, image_to_png


def decode(png: bytes) -> tuple[str, np.ndarray]:
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG"
        return picture.mode, np.asarray(picture)


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        found.append(
            (png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length])
        )
        offset += 12 + length
    return found


def chunk_types(png: bytes) -> list[bytes]:
    return [kind for kind, _ in chunks(png)]


def stored_rows(png: bytes) -> list[bytes]:
    """The PNG's rows as stored: each a filter type byte, then the row's bytes."""
    (header,) = [data for kind, data in chunks(png) if kind == b"IHDR"]
    width, height = struct.unpack(">II", header[:8])
    data = zlib.decompress(b"".join(d for kind, d in chunks(png) if kind == b"IDAT"))
    assert len(data) == height * (width + 1)
    return [data[row * (width + 1) : (row + 1) * (width + 1)] for row in range(height)]


def reference_filtered_row(image: np.ndarray, y: int) -> bytes:
    """libpng's choice for row ``y``, pixel by pixel from the PNG specification:
    of None, Up, Sub and Paeth, the first whose bytes read as signed sum
    smallest in absolute value."""

    def pixel(row: int, column: int) -> int:
        return int(image[row, column]) if row >= 0 and column >= 0 else 0

    def paeth(left: int, above: int, upper_left: int) -> int:
        estimate = left + above - upper_left
        distances = [abs(estimate - v) for v in (left, above, upper_left)]
        return (left, above, upper_left)[distances.index(min(distances))]

    best: tuple[int, bytes] | None = None
    for kind, predict in (
        (0, lambda x: 0),
        (2, lambda x: pixel(y - 1, x)),
        (1, lambda x: pixel(y, x - 1)),
        (4, lambda x: paeth(pixel(y, x - 1), pixel(y - 1, x), pixel(y - 1, x - 1))),
    ):
        filtered = bytes(
            (pixel(y, x) - predict(x)) % 256 for x in range(image.shape[1])
        )
        cost = sum(min(value, 256 - value) for value in filtered)
        if best is None or cost < best[0]:
            best, chosen = (cost, filtered), bytes([kind]) + filtered
    return chosen


def random_images(n: int, height: int = 5, width: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, height, width), dtype=np.uint8)


# --------------------------------------------------------------------------- #
# image_to_png
# --------------------------------------------------------------------------- #


def test_image_png_decodes_to_the_same_pixels() -> None:
    image = random_images(1, height=7, width=4)[0]

    mode, pixels = decode(image_to_png(image))

    assert mode == "L"
    np.testing.assert_array_equal(pixels, image)


@pytest.mark.parametrize("scale", [1, 2, 5])
def test_image_upscaling_is_nearest_neighbour(scale: int) -> None:
    image = random_images(1, height=4, width=6)[0]

    _, pixels = decode(image_to_png(image, scale=scale))

    assert pixels.shape == (4 * scale, 6 * scale)
    np.testing.assert_array_equal(
        pixels, np.kron(image, np.ones((scale, scale), dtype=np.uint8))
    )


def test_pixel_max_stretches_values_to_white() -> None:
    image = np.arange(17, dtype=np.uint8).reshape(1, 17)

    _, pixels = decode(image_to_png(image, pixel_max=16))

    expected = np.floor(np.arange(17) * 255 / 16 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(pixels[0], expected)
    assert pixels[0, 0] == 0
    assert pixels[0, -1] == 255


def test_pixels_above_pixel_max_are_refused() -> None:
    with pytest.raises(ValueError, match="pixel value 17 exceeds pixel_max 16"):
        image_to_png(np.full((2, 2), 17, dtype=np.uint8), pixel_max=16)


def test_png_bytes_are_deterministic_and_carry_no_metadata() -> None:
    image = random_images(1, height=28, width=28)[0]
    fortran_copy = np.asfortranarray(image)
    strided = np.zeros((28, 56), dtype=np.uint8)
    strided[:, ::2] = image

    png = image_to_png(image, scale=3)

    assert image_to_png(image.copy(), scale=3) == png
    assert image_to_png(fortran_copy, scale=3) == png
    assert image_to_png(strided[:, ::2], scale=3) == png
    assert chunk_types(png) == [b"IHDR", b"IDAT", b"IEND"]


@pytest.mark.parametrize("scale", [1, 3])
def test_every_png_chunk_carries_its_checksum(scale: int) -> None:
    image = random_images(1, height=28, width=28, seed=4)[0]
    png = image_to_png(image, scale=scale)

    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind_and_data = png[offset + 4 : offset + 8 + length]
        (checksum,) = struct.unpack(
            ">I", png[offset + 8 + length : offset + 12 + length]
        )
        assert checksum == zlib.crc32(kind_and_data), kind_and_data[:4]
        offset += 12 + length
    assert offset == len(png)


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((4, 4), dtype=np.float64), {}, "dtype uint8, got float64"),
        (np.zeros((4, 4), dtype=np.int64), {}, "dtype uint8, got int64"),
        (np.zeros((1, 4, 4), dtype=np.uint8), {}, r"shape \(h, w\)"),
        (np.zeros((0, 4), dtype=np.uint8), {}, "empty"),
        ([[0, 1], [2, 3]], {}, "numpy array, got list"),
        (np.zeros((4, 4), dtype=np.uint8), {"scale": 0}, "scale must be an integer"),
        (np.zeros((4, 4), dtype=np.uint8), {"scale": 1.5}, "scale must be an integer"),
        (np.zeros((4, 4), dtype=np.uint8), {"scale": True}, "scale must be an integer"),
        (np.zeros((4, 4), dtype=np.uint8), {"pixel_max": 256}, "at most 255"),
        (np.zeros((4, 4), dtype=np.uint8), {"pixel_max": 0}, "pixel_max must be"),
        (
            np.zeros((100, 100), dtype=np.uint8),
            {"scale": 101},
            f"exceeds {MAX_OUTPUT_PIXELS} pixels",
        ),
    ],
)
def test_image_to_png_rejects_bad_input(
    image: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        image_to_png(image, **kwargs)  # type: ignore[arg-type]


def test_numpy_integer_scale_is_accepted() -> None:
    image = random_images(1)[0]

    assert image_to_png(image, scale=np.int64(2)) == image_to_png(image, scale=2)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# grid_to_png
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("n", "columns", "scale", "padding", "expected_columns"),
    [
        (10, None, 1, 2, 4),
        (16, None, 1, 2, 4),
        (17, None, 2, 0, 5),
        (1, None, 3, 2, 1),
        (7, 3, 1, 1, 3),
        (3, 10, 1, 2, 3),
        (5, 1, 2, 4, 1),
    ],
)
def test_grid_geometry_and_tile_placement(
    n: int, columns: int | None, scale: int, padding: int, expected_columns: int
) -> None:
    height, width = 5, 3
    images = random_images(n, height, width)

    mode, sheet = decode(
        grid_to_png(
            images, columns=columns, scale=scale, padding=padding, background=77
        )
    )

    rows = math.ceil(n / expected_columns)
    tile_h, tile_w = height * scale, width * scale
    assert mode == "L"
    assert sheet.shape == (
        rows * tile_h + (rows - 1) * padding,
        expected_columns * tile_w + (expected_columns - 1) * padding,
    )
    covered = np.zeros(sheet.shape, dtype=bool)
    for index in range(n):
        row, column = divmod(index, expected_columns)
        top, left = row * (tile_h + padding), column * (tile_w + padding)
        tile = sheet[top : top + tile_h, left : left + tile_w]
        np.testing.assert_array_equal(
            tile, np.kron(images[index], np.ones((scale, scale), dtype=np.uint8))
        )
        covered[top : top + tile_h, left : left + tile_w] = True
    assert (sheet[~covered] == 77).all()


def smooth_images(n: int) -> np.ndarray:
    """Strokes blurred like MNIST's, on black: rows that Up, Sub or Paeth shrink."""
    rng = np.random.default_rng(1)
    x = np.arange(28)
    images = []
    for _ in range(n):
        row, column = rng.uniform(6, 22, size=2)
        spread = rng.uniform(2, 5)
        blob = np.exp(
            -((x[:, None] - row) ** 2 + (x[None, :] - column) ** 2) / spread**2
        )
        images.append(np.round(255 * blob).astype(np.uint8))
    return np.stack(images)


def test_sheet_rows_carry_the_filter_libpng_would_pick() -> None:
    kinds = set()
    # The smooth sheet (694x114) is filtered in two blocks of rows.
    sheets = ((smooth_images(24), 12, 2), (random_images(12, 28, 28), 4, 1))
    for tiles, columns, scale in sheets:
        png = grid_to_png(tiles, columns=columns, scale=scale, background=128)
        _, sheet = decode(png)

        rows = stored_rows(png)

        assert rows == [reference_filtered_row(sheet, y) for y in range(sheet.shape[0])]
        kinds |= {row[0] for row in rows}
    assert kinds == {0, 1, 2, 4}  # None (noise), Sub, Up and Paeth all taken


def test_single_images_are_stored_unfiltered() -> None:
    png = image_to_png(smooth_images(1)[0], scale=2)

    assert {row[0] for row in stored_rows(png)} == {0}


def test_grid_is_deterministic() -> None:
    images = random_images(25, 28, 28)

    first = grid_to_png(images, scale=2)

    assert grid_to_png(images.copy(), scale=2) == first
    assert grid_to_png(images, scale=2, padding=3) != first
    assert chunk_types(first) == [b"IHDR", b"IDAT", b"IEND"]


def test_grid_applies_pixel_max_to_tiles_only() -> None:
    images = np.full((2, 2, 2), 16, dtype=np.uint8)

    _, sheet = decode(grid_to_png(images, padding=1, background=40, pixel_max=16))

    assert sheet.tolist() == [[255, 255, 40, 255, 255], [255, 255, 40, 255, 255]]


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (np.zeros((2, 4, 4), dtype=np.float32), {}, "dtype uint8, got float32"),
        (np.zeros((4, 4), dtype=np.uint8), {}, r"shape \(n, h, w\)"),
        (np.zeros((0, 4, 4), dtype=np.uint8), {}, "empty"),
        (np.zeros((2, 4, 4), dtype=np.uint8), {"columns": 0}, "columns must be"),
        (np.zeros((2, 4, 4), dtype=np.uint8), {"padding": -1}, "padding must be"),
        (np.zeros((2, 4, 4), dtype=np.uint8), {"scale": 0}, "scale must be"),
        (np.zeros((2, 4, 4), dtype=np.uint8), {"background": 256}, "at most 255"),
        (
            np.zeros((10_000, 1, 1), dtype=np.uint8),
            {"padding": 1_000},
            f"exceeds {MAX_OUTPUT_PIXELS} pixels",
        ),
    ],
)
def test_grid_to_png_rejects_bad_input(
    images: np.ndarray, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        grid_to_png(images, **kwargs)  # type: ignore[arg-type]
