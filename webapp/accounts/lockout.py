"""What a locked-out log-in is told (django-axes calls `lockout_response`)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_seconds() -> int:
    """How long log-ins stay refused after the last failure."""
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = math.ceil(lockout_seconds() / 60)
    return (
        "Too many failed log-ins for this account or from your address: log-ins "
        f"are refused for {minutes} minutes after the last failure. Please try "
        "again later."
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429: the log-in page (browser or admin) saying the log-in is locked."""
    username = (credentials or {}).get("username") or ""
    form = AuthenticationForm(request, initial={"username": username})
    response = render(
        request,
        "web/registration/login.html",
        {"form": form, "locked_out": lockout_message()},
        status=429,
    )
    response["Retry-After"] = str(lockout_seconds())
    return response
