"""Use cases of galleries: writing a generation job's images, the contact sheet and
the ZIP download."""

from __future__ import annotations

import functools
import io
import json
import math
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from generator.render import frames_to_gif, grid_to_png
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.querysets import GuardedInsert, PreparedInsert, PreparedUpdate

if TYPE_CHECKING:
    from uuid import UUID

    from webapp.jobs.models import ModelVersion

# Tiles of about this many pixels a side unless the caller asks for a scale.
_TILE_PIXELS = 56
MAX_GRID_SCALE = 8
# A 16-frame walk plays forth and back in about five seconds.
_FRAME_MS = 160
# A fixed timestamp keeps the ZIP of a gallery byte-for-byte reproducible.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def gallery_seeds(seed: int, n_images: int) -> Sequence[int]:
    """The per-image seeds of a gallery: image ``i`` is sampled with ``seed + i``."""
    return range(seed, seed + n_images)


def create_gallery(
    *,
    success: tuple[PreparedUpdate, dict[str, Any]],
    job_id: UUID | str,
    owner_id: int,
    model_version: ModelVersion,
    digit: int | None,
    seed: int,
    temperature: float,
    evaluate: bool,
    pngs: Sequence[bytes],
    walk: dict[str, int | None] | None = None,
) -> Gallery | None:
    """Write a generation job's gallery and its images, ``pngs[i]`` from seed + i;
    with ``walk`` (its end points), the frames of a walk, all from the one seed.

    Written with the job's ``success`` (its UPDATE and the values of its
    placeholders), all or nothing (`GuardedInsert`): None, and nothing written,
    when that UPDATE changes no row (the job was cancelled or taken over).

    With ``evaluate``, the gallery waits in the ``pending`` evaluation state for
    the ``gallery.evaluate`` task that the caller queues once this is committed.
    """
    gallery = Gallery(
        owner_id=owner_id,
        job_id=job_id,
        model_version=model_version,
        n_images=len(pngs),
        images_size=sum(len(png) for png in pngs),
        digit=digit,
        seed=seed,
        temperature=temperature,
        evaluation_state=Gallery.EvaluationState.PENDING
        if evaluate
        else Gallery.EvaluationState.OFF,
        mode=Gallery.Mode.SAMPLES if walk is None else Gallery.Mode.WALK,
        walk=walk,
    )
    seeds = gallery_seeds(seed, len(pngs)) if walk is None else [seed] * len(pngs)
    images = [
        GeneratedImage(index=index, digit=digit, seed=image_seed, png=png)
        for index, (image_seed, png) in enumerate(zip(seeds, pngs, strict=True))
    ]
    update, values = success
    if not _insert_with(update).run(values, gallery, images):
        return None
    return gallery


@functools.cache
def _insert_with(success: PreparedUpdate) -> GuardedInsert:
    """A gallery's INSERTs after its job's success, compiled once per process."""
    return GuardedInsert(
        success, PreparedInsert(Gallery), PreparedInsert(GeneratedImage), "gallery"
    )


def _images(gallery: Gallery) -> list[GeneratedImage]:
    return list(gallery.images.order_by("index"))


def decode_png(png: bytes) -> np.ndarray:
    """A stored PNG's pixels as a 2-D uint8 array."""
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def png_size(png: bytes) -> tuple[int, int]:
    """A stored PNG's (width, height), from its header alone."""
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def gallery_grid_png(
    gallery: Gallery, *, scale: int | None = None, columns: int | None = None
) -> bytes:
    """All images of the gallery as one PNG sheet."""
    tiles = gallery_pixels(gallery)
    if scale is None:
        scale = _tile_scale(tiles)
    return grid_to_png(tiles, scale=scale, columns=columns)


def gallery_pixels(gallery: Gallery) -> np.ndarray:
    """The gallery's images as a uint8 array of shape (n, h, w), in index order."""
    return np.stack([decode_png(bytes(image.png)) for image in _images(gallery)])


def _tile_scale(tiles: np.ndarray) -> int:
    return max(1, min(MAX_GRID_SCALE, math.ceil(_TILE_PIXELS / int(tiles.shape[1]))))


def gallery_gif(gallery: Gallery) -> bytes:
    """A walk's frames as a looping animated GIF (forth and back)."""
    frames = gallery_pixels(gallery)
    return frames_to_gif(frames, scale=_tile_scale(frames), frame_ms=_FRAME_MS)


def image_filename(image: GeneratedImage) -> str:
    digit = "any" if image.digit is None else str(image.digit)
    return f"image-{image.index:03d}-digit-{digit}-seed-{image.seed}.png"


def gallery_zip(gallery: Gallery) -> bytes:
    """Every image as a PNG file plus a ``gallery.json`` saying how they were made."""
    model_version = gallery.model_version
    description: dict[str, Any] = {
        "gallery": gallery.pk,
        "job": str(gallery.job_id),
        "n_images": gallery.n_images,
        "digit": gallery.digit,
        "seed": gallery.seed,
        "temperature": gallery.temperature,
        "mode": gallery.mode,
        "walk": gallery.walk,
        "model_version": None
        if model_version is None
        else {
            "id": model_version.pk,
            "name": model_version.name,
            "version": model_version.version,
            "dataset": model_version.dataset,
            "settings": model_version.settings,
            "sha256": model_version.model_sha256,
        },
        "evaluation": gallery.evaluation,
        "evaluation_state": gallery.evaluation_state,
        "images": [],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for image in _images(gallery):
            name = image_filename(image)
            description["images"].append(
                {
                    "file": name,
                    "index": image.index,
                    "digit": image.digit,
                    "seed": image.seed,
                }
            )
            archive.writestr(zipfile.ZipInfo(name, _ZIP_DATE), bytes(image.png))
        info = zipfile.ZipInfo("gallery.json", _ZIP_DATE)
        archive.writestr(info, json.dumps(description, indent=2) + "\n")
    return buffer.getvalue()
