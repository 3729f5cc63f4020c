"""Log context: the job, user and Celery task a log line belongs to.

The runner binds ``job_id`` and ``user_id`` while it runs a job, the worker binds
``task_id`` for each task (worker/celery_app.py), and `LogContextMiddleware` the
request being served, whose user is named once it has been authenticated.
`ContextFilter` (on the console handler, see LOGGING in the settings) copies them
onto each record, so the JSON format (LOG_FORMAT=json) prints them as fields.
`JobLog` keeps the last lines logged for one job: the job's log tail.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

_context: ContextVar[dict[str, str]] = ContextVar("log_context", default={})  # noqa: B039
_request: ContextVar[HttpRequest | None] = ContextVar("log_request", default=None)


def current() -> dict[str, str]:
    """The log context bound in this thread or task."""
    return _context.get()


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Bind context fields for the block (None values are left out)."""
    token = _context.set(
        {**_context.get(), **{k: str(v) for k, v in values.items() if v is not None}}
    )
    try:
        yield
    finally:
        _context.reset(token)


def bind(**values: object) -> None:
    """Replace the context until the next `bind` (Celery's task signals)."""
    _context.set({k: str(v) for k, v in values.items() if v is not None})


def _request_user_id(request: HttpRequest) -> str | None:
    # Only a user already loaded: loading it here would query the database from
    # inside logging. DRF sets request.user on the Django request once it has
    # authenticated a token.
    user: Any = vars(request).get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


class ContextFilter(logging.Filter):
    """Copy the bound context onto each record that has not set it itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = dict(_context.get())
        request = _request.get()
        if request is not None and "user_id" not in fields:
            user_id = _request_user_id(request)
            if user_id is not None:
                fields["user_id"] = user_id
        for name, value in fields.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class LogContextMiddleware:
    """Name the request (and so its user) on the lines logged while serving it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


class JobLog(logging.Handler):
    """The last ``lines`` records logged for one job, in the text format."""

    def __init__(self, job_id: str, lines: int = 20) -> None:
        super().__init__()
        self.job_id = job_id
        self.records: deque[str] = deque(maxlen=lines)
        text_format = settings.LOGGING["formatters"]["text"]["format"]  # type: ignore[index]
        self.setFormatter(logging.Formatter(text_format))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "job_id", _context.get().get("job_id")) == self.job_id:
            self.records.append(self.format(record))

    def text(self, limit: int) -> str:
        """The lines kept, at most ``limit`` characters (the last ones win)."""
        text = "\n".join(self.records)
        return text if len(text) <= limit else "…" + text[-(limit - 1) :]

    @classmethod
    @contextmanager
    def capture(cls, job_id: str) -> Iterator[JobLog]:
        """Keep the job's lines while the block runs (on the root logger)."""
        handler = cls(job_id)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield handler
        finally:
            root.removeHandler(handler)
