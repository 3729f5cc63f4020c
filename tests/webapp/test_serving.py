"""webapp/jobs/serving.py: default and serving model versions, model files, sampling."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from webapp.jobs import serving
from webapp.jobs.models import ModelVersion

pytestmark = pytest.mark.django_db


# --- Model versions and models --------------------------------------------------------


def test_a_usable_model_version_is_one_visible_to_the_user_without_its_file(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    mine = make_model_version(owner)
    public = make_model_version(other_user, is_public=True)
    theirs = make_model_version(other_user)
    usable = {
        name: {
            model_version.pk
            for model_version in (mine, public, theirs)
            if serving.usable_model_version(user, str(model_version.pk)) is not None
        }
        for name, user in (("owner", owner), ("anonymous", AnonymousUser()))
    }
    assert usable == {"owner": {mine.pk, public.pk}, "anonymous": {public.pk}}
    assert serving.usable_model_version(owner, 2**64) is None
    found = serving.usable_model_version(owner, mine.pk)
    assert found is not None
    assert found.get_deferred_fields() == {"model_file"}
    assert (found.pk, found.owner_id, found.settings, found.metrics) == (
        mine.pk,
        owner.pk,
        mine.settings,
        mine.metrics,
    )
    with pytest.raises(ValidationError):
        serving.usable_model_version(owner, "abc")


def test_set_default_swaps_atomically(owner: User, make_model_version: Any) -> None:
    first = make_model_version(owner)
    second = make_model_version(owner)
    assert (first.is_default, second.is_default) == (True, False)

    serving.set_default_model_version(second)

    defaults = ModelVersion.objects.filter(owner=owner, is_default=True)
    assert list(defaults) == [second]


def test_set_default_leaves_other_owners_alone(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    mine = make_model_version(owner)
    theirs = make_model_version(other_user)
    make_model_version(owner, is_default=False)
    serving.set_default_model_version(mine)
    theirs.refresh_from_db()
    assert theirs.is_default


def test_serving_model_prefers_the_users_default_over_the_demo(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    from django.contrib.auth.models import AnonymousUser

    demo = make_model_version(other_user, is_public=True)
    assert serving.serving_model_version(AnonymousUser()) == demo
    assert serving.serving_model_version(owner) == demo
    mine = make_model_version(owner)
    assert serving.serving_model_version(owner) == mine
    assert serving.serving_model_version(AnonymousUser()) == demo


def test_tampered_model_file_is_refused(owner: User, make_model_version: Any) -> None:
    model_version = make_model_version(owner)
    content = bytearray(serving.model_file_bytes(model_version))
    content[len(content) // 2] ^= 0xFF
    ModelVersion.objects.filter(pk=model_version.pk).update(model_file=bytes(content))
    with pytest.raises(serving.ModelUnavailable, match="checksum"):
        serving.model_file_bytes(model_version)
    with pytest.raises(serving.ModelUnavailable):
        serving.sample_pngs(model_version, 2)


def test_loaded_models_are_cached_by_sha256(
    owner: User,
    make_model_version: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: SettingsWrapper,
) -> None:
    settings.MODEL_CACHE_SIZE = 1
    loads: list[int] = []
    real_load = serving.load_model

    def counting_load(content: bytes) -> Any:
        loads.append(len(content))
        return real_load(content)

    monkeypatch.setattr(serving, "load_model", counting_load)
    conditional = make_model_version(owner)
    unconditional = make_model_version(owner, class_conditional=False)

    serving.sample_pngs(conditional, 1)
    serving.sample_pngs(conditional, 1)
    assert len(loads) == 1
    serving.sample_pngs(unconditional, 1)
    serving.sample_pngs(conditional, 1)  # evicted by the other one
    assert len(loads) == 3


def test_sample_pngs_returns_fresh_random_pngs(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    first = serving.sample_pngs(model_version, 4)
    second = serving.sample_pngs(model_version, 4)
    assert len(first) == 4
    assert first != second
    for png in first:
        with Image.open(io.BytesIO(png)) as image:
            assert image.size == (8, 8)


# --- Big models: never loaded by a web process, streamed when downloaded ------------


def test_a_model_above_the_served_size_is_refused_without_loading_it(
    owner: User,
    make_model_version: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: SettingsWrapper,
) -> None:
    settings.MAX_SERVED_MODEL_MB = 1
    big = make_model_version(owner, model_size=3 * 1024 * 1024)

    def no_loading(content: bytes) -> Any:
        raise AssertionError("the web process loaded a model above its bound")

    monkeypatch.setattr(serving, "load_model", no_loading)
    with pytest.raises(serving.ModelTooLarge) as refused:
        serving.sample_pngs(big, 2)
    assert str(refused.value) == (
        "This model version (3 MB) is larger than the 1 MB this server samples on a "
        "page or in /generate. Queue a generation job instead (the Generate form "
        "of its page, or POST /api/v1/generations)."
    )


def test_a_generation_job_still_uses_a_model_above_the_served_size(
    owner: User, make_model_version: Any, settings: SettingsWrapper
) -> None:
    from tests.webapp.job_rows import generation_job
    from webapp.jobs import runner
    from webapp.jobs.models import Job

    settings.MAX_SERVED_MODEL_MB = 1
    big = make_model_version(owner, model_size=3 * 1024 * 1024)
    job = generation_job(owner, big)
    assert runner.run_generation_job(job.pk) is runner.RunOutcome.RAN
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED


def test_the_download_stream_reads_the_file_a_chunk_at_a_time(
    owner: User, make_model_version: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_version = make_model_version(owner)
    monkeypatch.setattr(serving, "MODEL_FILE_CHUNK_BYTES", 1000)
    chunks = list(serving.model_file_stream(model_version))
    assert len(chunks) == -(-model_version.model_size // 1000)
    assert {len(chunk) for chunk in chunks[:-1]} == {1000}
    assert b"".join(chunks) == serving.model_file_bytes(model_version)


def test_a_tampered_file_is_refused_before_the_stream_starts(
    owner: User, make_model_version: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_version = make_model_version(owner)
    content = bytearray(serving.model_file_bytes(model_version))
    content[-10] ^= 0xFF  # in the last chunk: the whole file is checked first
    ModelVersion.objects.filter(pk=model_version.pk).update(model_file=bytes(content))
    monkeypatch.setattr(serving, "MODEL_FILE_CHUNK_BYTES", 1000)
    with pytest.raises(serving.ModelUnavailable, match="checksum"):
        serving.model_file_stream(model_version)
