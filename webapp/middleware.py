"""Middleware of the project's own: the write throttle for non-DRF views."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
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
