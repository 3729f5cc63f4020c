"""Sending to the broker (webapp/jobs/dispatch.py): kombu's Redis transport with
one client for a channel's commands, on real Redis."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection

from webapp.jobs import dispatch


@pytest.fixture
def clients_made(monkeypatch: pytest.MonkeyPatch) -> list[redis.Redis]:
    """Every ``redis.Redis`` client made from now on."""
    made: list[redis.Redis] = []
    init = redis.Redis.__init__

    def counted(self: redis.Redis, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(redis.Redis, "__init__", counted)
    return made


@pytest.fixture
def task_ids() -> Iterator[list[str]]:
    """Task ids for this test; their messages are taken off the queue after it."""
    ids = [f"test-dispatch-{uuid.uuid4()}" for _ in range(6)]
    yield ids
    broker = redis.Redis.from_url(dispatch.app.conf.broker_url)
    try:
        for raw in broker.lrange("generation", 0, -1):
            if json.loads(raw)["headers"]["id"] in ids:
                broker.lrem("generation", 0, raw)
    finally:
        broker.close()


def test_a_redis_broker_goes_through_the_transport() -> None:
    with dispatch.app.connection_for_write() as connection:
        assert isinstance(connection.transport, dispatch.RedisTransport)


def test_celerys_messages_make_no_client_each(
    clients_made: list[redis.Redis], task_ids: list[str]
) -> None:
    first, *others = task_ids
    dispatch.evaluate_gallery(1, task_id=first)  # the channel and its clients
    made = len(clients_made)
    for task_id in others:
        dispatch.evaluate_gallery(1, task_id=task_id)
    assert len(clients_made) == made  # kombu's own made one a message


def test_messages_arrive_through_one_client(clients_made: list[redis.Redis]) -> None:
    # A queue of this test's own: a worker of another test may be consuming
    # the generation queue.
    with Connection(
        dispatch.app.conf.broker_url, transport=dispatch.RedisTransport
    ) as connection:
        queue = connection.SimpleQueue(f"test-dispatch-{uuid.uuid4()}")
        try:
            queue.put({"n": 0})
            made = len(clients_made)
            for n in range(1, 6):
                queue.put({"n": n})
            assert len(queue) == 6
            assert len(clients_made) == made
            assert [queue.get(timeout=5).payload["n"] for _ in range(6)] == [*range(6)]
        finally:
            queue.queue.delete()
            queue.close()


def test_a_pool_kombu_replaced_gets_a_client_of_its_own() -> None:
    with Connection(
        dispatch.app.conf.broker_url, transport=dispatch.RedisTransport
    ) as connection:
        channel = connection.channel()
        client = channel._create_client()
        assert channel._create_client() is client
        assert client.connection_pool is channel.pool
        # What kombu does when it has lost the broker.
        channel._disconnect_pools()
        replaced = channel._create_client()
        assert replaced is not client
        assert replaced.connection_pool is channel.pool
        assert replaced.ping()
        # The consumer's clients are kombu's own, one each time.
        assert channel._create_client(asynchronous=True) is not replaced
        channel.close()
