"""The shared cache: Django's Redis cache, with one client per connection pool.

Django's builds a new ``redis.Redis`` for every call (its response callbacks,
some hundred and fifty entries, each time): the write throttle's read and write
of every submission built two, about a tenth of a millisecond of CPU each. A
client holds no connection of its own (its pool does), so one can serve every
call; Django keeps a cache object per thread, and with it these clients.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache.backends import redis as django_redis


class _ClientPerPool(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[redis.ConnectionPool, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        # django-stubs leave out the pools Django's client keeps.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = redis.Redis(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    """``django.core.cache.backends.redis.RedisCache``, its clients reused."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ClientPerPool
