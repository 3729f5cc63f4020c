"""Shared fixtures: one per actor (STYLE §7), plus small object builders."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth.models import User
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.integration.integration_support import wait_for

PASSWORD = "a-long-test-password-42"

# Small enough to train in well under a second; class-conditional so that digit
# requests work.
TINY_SETTINGS: dict[str, Any] = {
    "dataset": "digits",
    "n_components": 8,
    "bandwidth": "cv",
    "bandwidth_grid": {"start": 0.2, "stop": 2.0, "num": 3},
    "cv_folds": 2,
    "n_train": 300,
    "class_conditional": True,
    "seed": 0,
}


@dataclass(frozen=True)
class TrainedFile:
    """A real model file and what training reported about it."""

    content: bytes
    sha256: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    dataset_digest: str


def _train(overrides: dict[str, Any]) -> TrainedFile:
    from generator.files import file_sha256
    from generator.io import save_model
    from generator.settings import validate_settings
    from generator.training import train_model

    training = validate_settings({**TINY_SETTINGS, **overrides})
    result = train_model(training)
    buffer = io.BytesIO()
    save_model(result.model, buffer, metadata={"settings": training.to_dict()})
    content = buffer.getvalue()
    return TrainedFile(
        content=content,
        sha256=file_sha256(content),
        settings=training.to_dict(),
        metrics=result.metrics,
        dataset_digest=result.dataset_digest,
    )


@pytest.fixture
def tiny_settings() -> dict[str, Any]:
    return dict(TINY_SETTINGS)


@pytest.fixture(scope="session")
def conditional_file() -> TrainedFile:
    return _train({})


@pytest.fixture(scope="session")
def unconditional_file() -> TrainedFile:
    return _train({"class_conditional": False})


@pytest.fixture(scope="session")
def per_class_file() -> TrainedFile:
    """One PCA per digit (a variance fraction), sampled at its own temperature."""
    return _train({"pca_scope": "per_class", "n_components": 0.8, "temperature": 1.2})


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user(username="owner", password=PASSWORD)


@pytest.fixture
def other_user(db: None) -> User:
    return User.objects.create_user(username="other", password=PASSWORD)


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_client(owner: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture
def other_client(other_user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@dataclass
class Dispatched:
    """The (kind, job id, task id) of every job sent to the broker."""

    calls: list[tuple[str, UUID, str]] = field(default_factory=list)

    @property
    def job_ids(self) -> list[UUID]:
        return [job_id for _, job_id, _ in self.calls]


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> Dispatched:
    """Record dispatches instead of talking to a broker (unit tests only)."""
    from webapp.jobs import dispatch

    record = Dispatched()
    monkeypatch.setattr(
        dispatch,
        "train",
        lambda job_id, *, task_id: record.calls.append(("training", job_id, task_id)),
    )
    monkeypatch.setattr(
        dispatch,
        "generate",
        lambda job_id, *, task_id: record.calls.append(("generation", job_id, task_id)),
    )
    return record


@pytest.fixture
def make_job() -> Any:
    """A queued training job row with the preview preset's settings (not dispatched)."""
    from webapp.jobs import services
    from webapp.jobs.models import Job

    def make(owner: User, **fields: Any) -> Job:
        values: dict[str, Any] = {
            "owner": owner,
            "kind": Job.Kind.TRAINING,
            "name": "a run",
            "params": services.validate_training_settings({}, preset="preview"),
        }
        values.update(fields)
        return Job.objects.create(**values)

    return make


@pytest.fixture
def make_model_version(
    conditional_file: TrainedFile, unconditional_file: TrainedFile
) -> Any:
    """Build a ModelVersion row holding a real model file."""
    from webapp.jobs.models import ModelVersion

    def make(
        owner: User, *, class_conditional: bool = True, **fields: Any
    ) -> ModelVersion:
        trained = conditional_file if class_conditional else unconditional_file
        last = ModelVersion.objects.filter(owner=owner).count()
        values: dict[str, Any] = {
            "owner": owner,
            "name": "tiny",
            "version": last + 1,
            "dataset": "digits",
            "dataset_digest": trained.dataset_digest,
            "settings": trained.settings,
            "seed": 0,
            "metrics": trained.metrics,
            "model_file": trained.content,
            "model_sha256": trained.sha256,
            "model_size": len(trained.content),
            "is_default": last == 0,
        }
        values.update(fields)
        return ModelVersion.objects.create(**values)

    return make


@pytest.fixture
def terminate_backends() -> Iterator[Callable[[Sequence[int]], None]]:
    """End PostgreSQL backends by pid, as a server restart or an idle timeout
    does, and wait until they are gone (by then each has sent its client an error
    and closed its socket)."""
    from django.db import connection

    killer = connection.copy()

    def terminate(pids: Sequence[int]) -> None:
        assert pids, "no backend to terminate"
        with killer.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [list(pids)]
            )

            def gone() -> bool:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                    [list(pids)],
                )
                return bool(cursor.fetchone()[0] == 0)

            wait_for(gone, timeout=30, what=f"backends {pids} to end")

    yield terminate
    killer.close()


@pytest.fixture
def isolated_services(settings: SettingsWrapper) -> Iterator[None]:
    """Unit-test settings: a private in-memory cache, no heartbeat thread.

    The real Redis cache would carry throttle counts from test to test, and a
    heartbeat thread's own connection cannot see the test's open transaction.
    """
    from django.core.cache import cache

    from webapp.jobs import serving

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    # Real password hashing costs about half a second per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.JOB_HEARTBEAT_SECONDS = 0
    settings.GALLERY_EVALUATION = False
    cache.clear()
    serving.model_cache.clear()
    yield
    serving.model_cache.clear()
