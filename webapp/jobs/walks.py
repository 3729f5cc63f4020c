"""Use case of a walk job: its end images, then the frames between them."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from generator.model import ImageGenerator
from generator.walk import latent_walk
from webapp.gallery.models import GeneratedImage
from webapp.gallery.services import decode_png


class WalkEndMissing(ValueError):
    """An end image was deleted between the request and the run."""


def walk_frames(
    model: ImageGenerator, params: dict[str, Any], *, owner_id: int
) -> NDArray[np.uint8]:
    """The ``n_images`` frames of the walk a job's params describe.

    Random ends (and digit ends) are drawn from the job's seed, the start first,
    so the same job draws the same walk.
    """
    walk = params["walk"]
    rng = np.random.default_rng(int(params["seed"]))
    ends = [
        _end_image(model, walk, side, rng, float(params["temperature"]), owner_id)
        for side in ("from", "to")
    ]
    return latent_walk(model, ends[0], ends[1], int(params["n_images"]))


def _end_image(
    model: ImageGenerator,
    walk: dict[str, int | None],
    side: str,
    rng: np.random.Generator,
    temperature: float,
    owner_id: int,
) -> NDArray[np.uint8]:
    image_id = walk.get(f"{side}_image")
    if image_id is None:
        drawn: NDArray[np.uint8] = model.sample(
            1,
            digit=walk.get(f"{side}_digit"),
            random_state=rng,
            temperature=temperature,
        )[0]
        return drawn
    image = GeneratedImage.objects.filter(
        pk=image_id, gallery__owner_id=owner_id
    ).first()
    if image is None:
        raise WalkEndMissing(f"{side}_image {image_id} no longer exists.")
    return decode_png(bytes(image.png))
