"""Serving models: the model cache, sampling for /generate, and which model version
serves a user."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import router, transaction
from django.db.models import BigIntegerField, BinaryField, OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Length, Substr

from generator.files import file_sha256
from generator.io import load_model
from generator.model import ImageGenerator
from generator.render import image_to_png
from webapp.jobs.models import ModelVersion, ModelVersionQuerySet, lock_owner
from webapp.querysets import Placeholder, PreparedQuery

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

logger = logging.getLogger(__name__)

MAX_SYNC_SAMPLES = 16
MODEL_FILE_CHUNK_BYTES = 1 << 20


# What `ModelVersionQuerySet.without_file` reads of a model version.
_FIELDS_WITHOUT_FILE = [
    field.attname
    for field in ModelVersion._meta.concrete_fields
    if field.name != ModelVersionQuerySet.FILE_FIELD
]


class ModelUnavailable(Exception):
    """No usable model: none trained yet, or its stored file failed its checks."""


def default_model_version(user: AbstractBaseUser) -> ModelVersion | None:
    """The user's own default model version, if they have one."""
    return (
        ModelVersion.objects.for_owner(user)
        .filter(is_default=True)
        .without_file()
        .first()
    )


@functools.cache
def _usable_model_version_query() -> PreparedQuery:
    return PreparedQuery(
        ModelVersion.objects.visible_to_user_id(
            Placeholder("user_id", ModelVersion._meta.get_field("owner"))
        )
        .filter(pk=Placeholder("pk", ModelVersion._meta.pk))
        .order_by()  # one row: no sort
        .values(*_FIELDS_WITHOUT_FILE)
    )


def usable_model_version(
    user: AbstractBaseUser | AnonymousUser, pk: Any
) -> ModelVersion | None:
    """The model version ``pk`` if ``user`` may sample it (their own or a public
    one, as `ModelVersionQuerySet.visible_to` says), without its file; else None.

    A ``pk`` that is no integer raises ``ValidationError``. One query compiled
    once per process: the lookup of every submission.
    """
    query = _usable_model_version_query()
    row = query.first(user_id=user.pk, pk=pk)
    if row is None:
        return None
    return ModelVersion.from_db(
        query.using,
        _FIELDS_WITHOUT_FILE,
        [row[name] for name in _FIELDS_WITHOUT_FILE],
    )


def params_model_checksum() -> Subquery:
    """The checksum of the model version that a job's ``params`` name (a
    generation job's), as an expression of the job's row: NULL for a job without
    one, or once that version is gone. The claim reads it with the job's row
    (`runner._claim`): every generation job finds its model with no query of its
    own."""
    return Subquery(
        ModelVersion.objects.filter(
            pk=Cast(
                KeyTextTransform("model_version", OuterRef("params")), BigIntegerField()
            )
        ).values("model_sha256")
    )


def model_version_with_checksum(pk: int, checksum: str) -> ModelVersion:
    """The model version ``pk`` with only its id and checksum read (what
    `params_model_checksum` gives): enough to find its model in the cache, or
    check its file once read."""
    return ModelVersion.from_db(
        router.db_for_read(ModelVersion), ["id", "model_sha256"], [pk, checksum]
    )


def serving_model_version(
    user: AbstractBaseUser | AnonymousUser,
) -> ModelVersion | None:
    """The model behind the old app's API: the caller's default, else the demo."""
    if user.is_authenticated:
        own = default_model_version(user)
        if own is not None:
            return own
    return (
        ModelVersion.objects.filter(is_public=True)
        .without_file()
        .order_by("-created_at")
        .first()
    )


def set_default_model_version(model_version: ModelVersion) -> ModelVersion:
    """Make this the owner's default, unsetting the previous one atomically."""
    with transaction.atomic():
        lock_owner(model_version.owner_id)
        ModelVersion.objects.filter(
            owner_id=model_version.owner_id, is_default=True
        ).exclude(pk=model_version.pk).update(is_default=False)
        ModelVersion.objects.filter(pk=model_version.pk).update(is_default=True)
    model_version.is_default = True
    return model_version


def default_after_deleting(model_version: ModelVersion) -> ModelVersion | None:
    """The owner's default once this version is gone: the default if it is
    another one, else their newest other version (None when none remains)."""
    others = (
        ModelVersion.objects.filter(owner_id=model_version.owner_id)
        .exclude(pk=model_version.pk)
        .without_file()
    )
    default = others.filter(is_default=True).first()
    return default or others.order_by("-created_at", "-pk").first()


def delete_model_version(model_version: ModelVersion) -> ModelVersion | None:
    """Delete it; its galleries stay, without a model version. Returns the owner's
    default afterwards (`default_after_deleting`), which it makes the default."""
    with transaction.atomic():
        lock_owner(model_version.owner_id)
        default = default_after_deleting(model_version)
        ModelVersion.objects.filter(pk=model_version.pk).delete()
        if default is not None and not default.is_default:
            ModelVersion.objects.filter(pk=default.pk).update(is_default=True)
            default.is_default = True
    return default


class _ModelCache:
    """Loaded models by file SHA-256, least recently used first out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: OrderedDict[str, ImageGenerator] = OrderedDict()

    def get(self, sha256: str) -> ImageGenerator | None:
        with self._lock:
            model = self._models.get(sha256)
            if model is not None:
                self._models.move_to_end(sha256)
            return model

    def put(self, sha256: str, model: ImageGenerator) -> None:
        with self._lock:
            self._models[sha256] = model
            self._models.move_to_end(sha256)
            while len(self._models) > settings.MODEL_CACHE_SIZE:
                self._models.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


model_cache = _ModelCache()


class ModelTooLarge(ModelUnavailable):
    """The model is too big to load in a web process; a generation job can use it."""


def _check_sha256(digest: str, model_version: ModelVersion) -> None:
    if digest != model_version.model_sha256:
        logger.error("Model version %s failed its SHA-256 check", model_version.pk)
        raise ModelUnavailable(
            "The stored model file does not match its checksum; retrain the model."
        )


def model_file_bytes(model_version: ModelVersion) -> bytes:
    """The stored .npz, after checking it against its recorded SHA-256."""
    stored = (
        ModelVersion.objects.filter(pk=model_version.pk)
        .values_list("model_file", flat=True)
        .first()
    )
    content = bytes(stored) if stored is not None else b""
    _check_sha256(file_sha256(content), model_version)
    return content


def _stored_chunks(model_version: ModelVersion) -> Iterator[bytes]:
    """The stored file, one database read of MODEL_FILE_CHUNK_BYTES at a time."""
    rows = ModelVersion.objects.filter(pk=model_version.pk)
    size = (
        rows.annotate(size=Length("model_file")).values_list("size", flat=True).first()
        or 0
    )
    for offset in range(0, size, MODEL_FILE_CHUNK_BYTES):
        chunk = (
            rows.annotate(
                chunk=Substr(
                    "model_file",
                    offset + 1,
                    MODEL_FILE_CHUNK_BYTES,
                    output_field=BinaryField(),
                )
            )
            .values_list("chunk", flat=True)
            .first()
        )
        yield bytes(chunk or b"")


def model_file_stream(model_version: ModelVersion) -> Iterator[bytes]:
    """The stored .npz in chunks, for a download that never holds the whole file.

    The file is checked against its SHA-256 in a first pass (ModelUnavailable
    before any byte is sent), then read again chunk by chunk as it is sent.
    """
    digest = hashlib.sha256()
    for chunk in _stored_chunks(model_version):
        digest.update(chunk)
    _check_sha256(digest.hexdigest(), model_version)
    return _stored_chunks(model_version)


def cached_model(model_version: ModelVersion) -> ImageGenerator | None:
    """The model of this version if this process has it loaded already."""
    return model_cache.get(model_version.model_sha256)


def load_model_version(model_version: ModelVersion) -> ImageGenerator:
    """The model of this version, from the cache or its checked file."""
    model = cached_model(model_version)
    if model is None:
        model, _ = load_model(model_file_bytes(model_version))
        model_cache.put(model_version.model_sha256, model)
    return model


def check_servable(model_version: ModelVersion) -> None:
    """ModelTooLarge unless a web process may load this model (MAX_SERVED_MODEL_MB)."""
    limit_mb = settings.MAX_SERVED_MODEL_MB
    if model_version.model_size > limit_mb * 1024 * 1024:
        raise ModelTooLarge(
            f"This model version ({model_version.model_size / 2**20:.0f} MB) is "
            f"larger than the {limit_mb} MB this server samples on a page or in "
            "/generate. Queue a generation job instead (the Generate form of its "
            "page, or POST /api/v1/generations)."
        )


def sample_pngs(
    model_version: ModelVersion, n_samples: int, *, digit: int | None = None
) -> list[bytes]:
    """Fresh random samples as PNGs, straight from the model (no job, no rows).

    For the web process (pages and /generate): a model above MAX_SERVED_MODEL_MB
    is refused with ModelTooLarge before anything is read.
    """
    check_servable(model_version)
    try:
        model = load_model_version(model_version)
    except ValueError as exc:  # ModelFileError is a ValueError
        raise ModelUnavailable(f"The model file could not be loaded: {exc}") from exc
    images = model.sample(n_samples, digit=digit, random_state=None)
    return [image_to_png(image) for image in images]
