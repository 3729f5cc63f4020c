from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.webapp.job_rows import generation_job
from webapp.gallery.models import Gallery
from webapp.jobs import runner


@pytest.fixture(autouse=True)
def _isolated(isolated_services: None) -> None:
    """Every webapp test runs with the unit-test settings of tests/conftest.py."""


@pytest.fixture
def gallery(owner: User, make_model_version: Any) -> Gallery:
    """A gallery made by really running a generation job."""
    job = generation_job(owner, make_model_version(owner), n_images=5, digit=2, seed=40)
    runner.run_generation_job(job.pk)
    return Gallery.objects.get(job=job)
