"""How the API shows a job, and the status poll's read path: one job of its
owner, read by one query compiled once per process and shaped without DRF's fields;
with a token, the token and its user are read by that same query (`token_poll`).

A poll is the API's most frequent request. Building `JobSerializer`'s fields and
compiling the job's query (its result annotations) anew for each one cost most of
its time. `JobSerializer` (lists, answers to submissions, the schema) shows a job
through `job_data` too, so every answer has one shape.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import get_script_prefix, reverse
from rest_framework.authtoken.models import Token
from rest_framework.fields import DateTimeField
from rest_framework.request import Request
from rest_framework.reverse import preserve_builtin_query_params

from webapp.accounts.authentication import TokenAuthentication, credential_names
from webapp.jobs.models import Job
from webapp.querysets import Placeholder, PreparedQuery

# JobSerializer's plain fields, in its order, each shown as read.
_PLAIN = ("kind", "name", "state", "progress", "phase")
_PLAIN_AFTER_QUEUE = ("attempts", "cancel_requested", "error", "log_tail", "params")
_MOMENTS = ("created_at", "started_at", "finished_at", "heartbeat_at")
_MOMENT = DateTimeField()
# What job_data reads: the job's columns and `JobQuerySet.with_results`' annotations.
ROW = (
    "id",
    *_PLAIN,
    *_PLAIN_AFTER_QUEUE,
    *_MOMENTS,
    "result_model_version_id",
    "result_gallery_id",
    "queue_position",
)
# What reading a job by a malformed id raises (not a UUID, not a string).
_MALFORMED_ID = (TypeError, ValueError, ValidationError)
# Stands for the id in a path reversed once (no id, a UUID or digits, holds it).
_ID = "ID"


@functools.cache
def _path(view_name: str, script_prefix: str) -> str:
    # Cached per script prefix (a deployment under a sub-path), which reverse()
    # puts in front.
    return reverse(view_name, kwargs={"pk": _ID})


def _url(view_name: str, pk: Any, request: Request) -> str:
    """DRF's ``reverse(view_name, kwargs={"pk": pk}, request=request)``.

    Reversing a path anew took a tenth of a poll; its id is all that changes.
    """
    # The last "ID": a script prefix in front may hold those letters too.
    before, _, after = _path(view_name, get_script_prefix()).rpartition(_ID)
    path = f"{before}{pk}{after}"
    return preserve_builtin_query_params(request.build_absolute_uri(path), request)


@functools.cache
def _job_query() -> PreparedQuery:
    return PreparedQuery(
        Job.objects.filter(
            owner_id=Placeholder("owner_id", Job._meta.get_field("owner")),
            pk=Placeholder("pk", Job._meta.pk),
        )
        .with_results()
        .order_by()  # one row: no sort (QuerySet.get() drops it too)
        .values(*ROW)
    )


# The token's and its owner's columns in `_token_job_query`'s rows.
_OWNER, _TOKEN = "owner__", "owner__auth_token__"


@functools.cache
def _token_job_query() -> PreparedQuery:
    return PreparedQuery(
        Job.objects.filter(
            pk=Placeholder("pk", Job._meta.pk),
            owner__auth_token__key=Placeholder("key", Token._meta.pk),
            owner__is_active=True,
        )
        .with_results()
        .order_by()
        .values(*ROW, *credential_names(_OWNER, _TOKEN))
    )


def token_poll(request: Request, pk: Any) -> tuple[bool, dict[str, Any] | None]:
    """A poll with a token: the token, its user and the job ``pk`` read by one
    query, where authenticating and then `owned_job` took two.

    Returns ``(read, job)``. ``read`` is False when the request holds no well-formed
    token for the first authenticator (DRF's order) to read: authenticate as usual,
    then call `owned_job`. Otherwise ``job`` is the job's row, the request signed in
    as the token's user; or None, when the token is no active user's (DRF's
    authentication refuses it in its own words) or the job is not theirs.
    """
    authenticator = request.authenticators[0] if request.authenticators else None
    if not isinstance(authenticator, TokenAuthentication):
        return False, None
    key = authenticator.key(request)
    if key is None:
        return False, None
    query = _token_job_query()
    try:
        row = query.first(pk=pk, key=key)
    except _MALFORMED_ID:
        return False, None
    if row is not None:
        authenticator.sign_in(
            request, *authenticator.credentials(row, query.using, _OWNER, _TOKEN)
        )
    return True, row


def owned_job(owner_id: Any, pk: Any) -> dict[str, Any] | None:
    """The job ``pk`` of the user ``owner_id`` with its results (see
    `JobQuerySet.with_results`), as a row; None for anyone else's, an unknown or
    a malformed id."""
    try:
        return _job_query().first(owner_id=owner_id, pk=pk)
    except _MALFORMED_ID:
        return None


def job_data(job: dict[str, Any], request: Request) -> dict[str, Any]:
    """The API's answer for a job: a row of `owned_job` (or of ``ROW`` read off a
    job with its results), described field by field by `JobSerializer`."""
    url = _url("api:job-detail", job["id"], request)
    model_version, gallery = job["result_model_version_id"], job["result_gallery_id"]
    return {
        "id": str(job["id"]),
        "url": url,
        **{name: job[name] for name in _PLAIN},
        "queue_position": (
            job["queue_position"] if job["state"] == Job.State.QUEUED else None
        ),
        **{name: job[name] for name in _PLAIN_AFTER_QUEUE},
        **{name: _MOMENT.to_representation(job[name]) for name in _MOMENTS},
        "model_version": model_version,
        "gallery": gallery,
        "links": {
            "self": url,
            "cancel": _url("api:job-cancel", job["id"], request),
            "model_version": None
            if model_version is None
            else _url("api:model-version-detail", model_version, request),
            "gallery": None
            if gallery is None
            else _url("api:gallery-detail", gallery, request),
        },
    }
