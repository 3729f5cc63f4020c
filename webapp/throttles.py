"""Rate limits, counted in the shared cache (Redis) so every web process agrees.

While the cache is unreachable the throttles let requests through (logged).

Every write (any method but GET, HEAD, OPTIONS) is throttled: REST endpoints by
DRF (`WriteThrottle` is the default throttle class; the sign-up, token and
``/generate`` endpoints use their own stricter scopes instead), browser forms and
the admin by `webapp.middleware.WriteThrottleMiddleware` with the same counter.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from webapp.client_ip import client_ip

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _ScopedThrottle(SimpleRateThrottle):
    # SimpleRateThrottle copies the rates at import time; reading them per request
    # lets settings overrides (tests, reloads) take effect.
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope or "")

    def allow_request(self, request: Request | HttpRequest, view: Any) -> bool:
        # The pages and the middleware pass Django's own request (and no view):
        # everything read here exists on both kinds.
        try:
            return super().allow_request(request, view)  # type: ignore[arg-type]
        except redis.RedisError:
            # Redis is unreachable: let the request through rather than fail it.
            # What must hold anyway lives in the database: the per-user job
            # limits and the log-in lockout.
            logger.warning(
                "The %s throttle is off: the cache is unreachable", self.scope
            )
            return True

    def get_ident(self, request: Request | HttpRequest) -> str:
        return client_ip(request)

    def get_cache_key(self, request: Request | HttpRequest, view: Any) -> str | None:
        user = request.user
        ident = (
            f"user-{user.pk}"
            if user is not None and user.is_authenticated
            else self.get_ident(request)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AuthThrottle(_ScopedThrottle):
    """Sign-up and token requests, per client address: slows password guessing."""

    scope = "auth"


class GenerateThrottle(_ScopedThrottle):
    """The synchronous ``/generate``, per user or address: it samples in-process."""

    scope = "generate"


class WriteThrottle(_ScopedThrottle):
    """Every other write, per user (or address when anonymous); reads are free."""

    scope = "write"

    def allow_request(self, request: Request | HttpRequest, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
