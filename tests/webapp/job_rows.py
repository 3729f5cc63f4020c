"""Job rows for the service tests: a tiny trainable training job, a generation job
(and its gallery, generated or stored as given)."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from webapp.gallery.models import Gallery
from webapp.gallery.services import create_gallery
from webapp.jobs import runner, services
from webapp.jobs.models import Job, ModelVersion
from webapp.querysets import Placeholder, PreparedUpdate

TINY = {
    "dataset": "digits",
    "n_components": 8,
    "bandwidth_grid": {"start": 0.2, "stop": 2.0, "num": 3},
    "cv_folds": 2,
    "n_train": 300,
    "class_conditional": True,
}


def training_job(owner: User, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "owner": owner,
        "kind": Job.Kind.TRAINING,
        "name": "tiny run",
        "params": services.validate_training_settings(TINY),
    }
    values.update(fields)
    return Job.objects.create(**values)


def generation_job(owner: User, model_version: ModelVersion, **params: Any) -> Job:
    values = {
        "model_version": model_version.pk,
        "n_images": 4,
        "digit": 3,
        "seed": 10,
        "temperature": 1.0,
    }
    values.update(params)
    return Job.objects.create(owner=owner, kind=Job.Kind.GENERATION, params=values)


def generated_gallery(
    owner: User, model_version: ModelVersion, **params: Any
) -> Gallery:
    """A `generation_job` run here and now: its gallery."""
    job = generation_job(owner, model_version, **params)
    runner.run_generation_job(job.pk)
    return Gallery.objects.get(job=job)


@functools.cache
def _success() -> PreparedUpdate:
    return PreparedUpdate(
        Job.objects.filter(pk=Placeholder("pk", Job._meta.get_field("id"))),
        state=Job.State.SUCCEEDED,
    )


def stored_gallery(
    owner: User, model_version: ModelVersion, pngs: list[bytes]
) -> Gallery:
    """A generation job that succeeded with a gallery of these images, stored
    as a run stores its result, without running it."""
    job = generation_job(owner, model_version, n_images=len(pngs), digit=None, seed=1)
    gallery = create_gallery(
        success=(_success(), {"pk": job.pk}),
        job_id=job.pk,
        owner_id=owner.pk,
        model_version=model_version,
        digit=None,
        seed=1,
        temperature=1.0,
        evaluate=False,
        pngs=pngs,
    )
    assert gallery is not None
    return gallery


def stale_time() -> Any:
    return timezone.now() - timedelta(hours=1)
