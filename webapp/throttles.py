"""Rate limits, counted in the shared cache (Redis) so every web process agrees."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _ScopedThrottle(SimpleRateThrottle):
    # SimpleRateThrottle copies the rates at import time; reading them per request
    # lets settings overrides (tests, reloads) take effect.
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope or "")

    def get_cache_key(self, request: Request, view: Any) -> str | None:
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
