"""Middleware of the project's own: the write throttle for non-DRF views, and
django-csp's middleware with its usual policy built once."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import csp.middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.views import APIView

from webapp.throttles import WriteThrottle


def throttled_response(wait: float | None) -> HttpResponse:
    """429 for a browser request, saying when to come back."""
    seconds = max(1, math.ceil(wait or 1))
    response = HttpResponse(
        f"Too many requests: please wait {seconds} s and try again.",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


class WriteThrottleMiddleware:
    """`WriteThrottle` for the views DRF does not run: pages, forms, the admin."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None  # DRF applies its own throttles, with token users known
        throttle = WriteThrottle()
        if throttle.allow_request(request, None):
            return None
        return throttled_response(throttle.wait())


# What django-csp's decorators (csp_exempt, csp_update, csp_replace and
# csp(config)) set on the response of the view they change the policy of.
_PER_VIEW_POLICY = tuple(
    f"_csp_{kind}{suffix}"
    for kind in ("exempt", "config", "update", "replace")
    for suffix in ("", "_ro")
)


@functools.cache
def settings_policy_headers() -> tuple[tuple[str, str], ...] | None:
    """django-csp's headers for a response no view changed and no nonce entered,
    as ``(name, value)`` pairs; None where a policy excludes URL prefixes
    (django-csp decides those per path)."""
    headers = []
    for header, setting, report_only in (
        (HEADER, "CONTENT_SECURITY_POLICY", False),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
    ):
        if (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES"):
            return None
        policy = build_policy(report_only=report_only)
        if policy:
            headers.append((header, policy))
    return tuple(headers)


@receiver(setting_changed)
def _forget_policy_headers(setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        settings_policy_headers.cache_clear()


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, but a response that no view decorator changed and
    no nonce entered gets the settings' policy built once per process, rather than
    built twice per response (50 µs, a twentieth of a status poll's CPU). Anything
    else, and everything under DEBUG (django-csp spares its error pages), is
    django-csp's."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        headers = settings_policy_headers()
        if (
            headers is None
            or settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_VIEW_POLICY)
        ):
            return super().process_response(request, response)
        for header, policy in headers:
            if header not in response:
                response[header] = policy
        # As django-csp does once the header is written: a nonce asked for later
        # would be missing from it, so asking is an error.
        request.csp_nonce = csp.middleware.CheckableLazyObject(  # type: ignore[attr-defined]
            self._csp_nonce_post_response
        )
        return response
