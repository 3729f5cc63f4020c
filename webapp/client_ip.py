"""The client's address, as the throttles and the login lockout see it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request


def client_ip(request: HttpRequest | Request) -> str:
    """The address of the client that sent ``request``.

    X-Forwarded-For is trusted only as far as our own proxies wrote it: with
    ``TRUSTED_PROXY_COUNT`` = n, the client is the n-th entry from the right (the
    address the outermost of our proxies saw); whatever the client put in front of
    that is ignored. With 0, the header is ignored altogether and the client is the
    TCP peer, so a client cannot pick its own address.
    """
    remote_addr = str(request.META.get("REMOTE_ADDR") or "")
    proxies: int = settings.TRUSTED_PROXY_COUNT
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if proxies == 0 or not entries:
        return remote_addr
    return entries[-min(proxies, len(entries))]
