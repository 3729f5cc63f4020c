"""webapp/cache.py: Django's Redis cache, its clients reused."""

from __future__ import annotations

import pytest
import redis

from webapp.cache import RedisCache

# Nothing listens there: building a client connects to nothing.
PRIMARY, REPLICA = "redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"


def test_every_call_gets_the_same_client() -> None:
    client = RedisCache(PRIMARY, {})._cache
    first = client.get_client("key")
    assert client.get_client("other", write=True) is first
    assert first.connection_pool.connection_kwargs["port"] == 1


def test_reads_from_a_replica_have_a_client_of_their_own() -> None:
    client = RedisCache(f"{PRIMARY},{REPLICA}", {})._cache
    write = client.get_client(write=True)
    read = client.get_client()
    assert read is client.get_client() is not write
    assert (
        write.connection_pool.connection_kwargs["port"],
        read.connection_pool.connection_kwargs["port"],
    ) == (1, 2)


def test_an_unreachable_server_still_raises_redis_errors() -> None:
    cache = RedisCache(PRIMARY, {})
    for _ in range(2):
        with pytest.raises(redis.ConnectionError):
            cache.get("key")
