"""Gallery evaluation: the quality figures of a gallery's images.

A generation job stores its images and succeeds without waiting for these; it
queues the ``gallery.evaluate`` task, which fills in ``Gallery.evaluation``. The
digit classifier is fitted once per data set and cached in DATA_DIR
(`generator.classifier.load_classifier`); workers fit it at start-up
(`prepare_evaluation`), so no user's gallery waits for that fit either.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from generator.model import SAMPLE_PIXEL_MAX
from webapp.gallery.models import Gallery
from webapp.gallery.services import gallery_pixels

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=2)
def _evaluation_tools(dataset_name: str) -> tuple[Any, Any]:
    from generator.classifier import load_classifier
    from generator.datasets import load_dataset

    dataset = load_dataset(dataset_name, data_dir=settings.DATA_DIR)
    return dataset, load_classifier(dataset, data_dir=settings.DATA_DIR)


def prepare_evaluation(dataset_names: Iterable[str]) -> list[str]:
    """Load (fitting once if needed) the classifiers of these data sets.

    Returns the names prepared; a data set that cannot be loaded is logged and
    skipped (its galleries' evaluation fails later, their images are unharmed).
    """
    prepared = []
    for name in dataset_names:
        try:
            _evaluation_tools(name)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.warning("Preparing the %s classifier failed", name, exc_info=True)
        else:
            prepared.append(name)
    return prepared


def evaluate_gallery(gallery_id: int | str) -> Gallery.EvaluationState | None:
    """Compute a pending gallery's figures; the state it ends in (None: not pending)."""
    gallery = (
        Gallery.objects.with_model_version()
        .filter(pk=gallery_id, evaluation_state=Gallery.EvaluationState.PENDING)
        .first()
    )
    if gallery is None:
        # Evaluated already (a duplicate delivery), deleted, or never pending.
        logger.info("Gallery %s has no pending evaluation", gallery_id)
        return None
    evaluation = None
    try:
        if gallery.model_version is None:
            raise LookupError("its model version was deleted")
        from generator.evaluate import evaluate_images

        dataset, classifier = _evaluation_tools(gallery.model_version.dataset)
        evaluation = evaluate_images(
            gallery_pixels(gallery),
            dataset=dataset,
            classifier=classifier,
            requested_digit=gallery.digit,
            pixel_max=SAMPLE_PIXEL_MAX,
        )
    except SoftTimeLimitExceeded:
        _finish(gallery.pk, None)
        raise
    except Exception:
        logger.warning("Evaluating gallery %s failed", gallery.pk, exc_info=True)
    return _finish(gallery.pk, evaluation)


def _finish(
    gallery_id: int, evaluation: dict[str, Any] | None
) -> Gallery.EvaluationState:
    state = (
        Gallery.EvaluationState.FAILED
        if evaluation is None
        else Gallery.EvaluationState.DONE
    )
    Gallery.objects.filter(
        pk=gallery_id, evaluation_state=Gallery.EvaluationState.PENDING
    ).update(evaluation=evaluation, evaluation_state=state)
    return state
