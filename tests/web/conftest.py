from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.fixture(autouse=True)
def _isolated(isolated_services: None) -> None:
    """Every web page test runs with the unit-test settings of tests/conftest.py."""


@pytest.fixture
def client_of() -> Any:
    """A logged-in Django test client for a user."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def owner_client(owner: User, client_of: Any) -> Client:
    return client_of(owner)


@pytest.fixture
def other_client_web(other_user: User, client_of: Any) -> Client:
    return client_of(other_user)


def _png(value: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (8, 8), value).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def make_gallery(make_job: Any) -> Any:
    """A finished generation job with its gallery of ``n_images`` PNGs."""
    from webapp.gallery.models import Gallery, GeneratedImage
    from webapp.jobs.models import Job

    def make(
        owner: User, model_version: Any, *, n_images: int = 3, **fields: Any
    ) -> Any:
        job = make_job(
            owner,
            kind=Job.Kind.GENERATION,
            state=Job.State.SUCCEEDED,
            progress=1.0,
            name=f"{n_images} images",
            params={
                "model_version": model_version.pk,
                "n_images": n_images,
                "digit": fields.get("digit"),
                "seed": 5,
                "temperature": 1.0,
            },
        )
        gallery = Gallery.objects.create(
            owner=owner,
            job=job,
            model_version=model_version,
            n_images=n_images,
            seed=5,
            **fields,
        )
        GeneratedImage.objects.bulk_create(
            GeneratedImage(
                gallery=gallery,
                index=index,
                digit=fields.get("digit"),
                seed=5 + index,
                png=_png(index * 20),
            )
            for index in range(n_images)
        )
        return gallery

    return make
