"""Enqueueing, and the queues' lengths: the only module in webapp that talks to the
broker.

Tasks are sent by name (``webapp.jobs.task_names``), so webapp never imports the
worker package. Callers pass primary keys only and call these after the
transaction that wrote the job row has committed (``transaction.on_commit``), so
a worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

import redis
from celery import Celery
from kombu.transport import redis as kombu_redis

from webapp.jobs.task_names import EVALUATE_GALLERY, GENERATE, TRAIN


class _Channel(kombu_redis.Channel):
    """kombu's Redis channel with one client for its commands (messages sent,
    acknowledgements), on its connection pool.

    kombu makes a new ``redis.Redis`` client on the pool for each one, and building
    one took a submission a fifteenth of its instructions. A pool kombu replaced
    (after the broker was lost) gets a client of its own.
    """

    _commands_client: redis.Redis | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        client = self._commands_client
        if client is None or client.connection_pool is not self.pool:
            client = self._commands_client = super()._create_client()  # type: ignore[no-untyped-call]
        return client


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport with `_Channel`: CELERY_BROKER_TRANSPORT for a
    ``redis://`` broker, the web's and the workers'."""

    Channel = _Channel


# A sending-only app, configured from the same CELERY_* settings as
# worker.celery_app: routing goes by task name (CELERY_TASK_ROUTES), so a message
# lands on the same queue whichever app sends it. It is never the current app and
# has no fixups: the Django fixup prepares processes that run tasks.
app = Celery("webapp", set_as_current=False, fixups=[])
app.config_from_object("django.conf:settings", namespace="CELERY")


def train(job_id: UUID, *, task_id: str) -> None:
    """Queue a training job on the ``training`` queue."""
    app.send_task(TRAIN, args=[str(job_id)], task_id=task_id)


def generate(job_id: UUID, *, task_id: str) -> None:
    """Queue a generation job on the ``generation`` queue."""
    app.send_task(GENERATE, args=[str(job_id)], task_id=task_id)


def evaluation_task_id(gallery_id: int | str) -> str:
    """The one task id of a gallery's evaluation: a message sent again for it keeps
    it, so the broker check of the sweeper recognises it."""
    return f"gallery-{gallery_id}-evaluate"


def evaluate_gallery(gallery_id: int | str, *, task_id: str) -> None:
    """Queue the quality figures of a stored gallery on the ``generation`` queue."""
    app.send_task(EVALUATE_GALLERY, args=[str(gallery_id)], task_id=task_id)


def waiting_task_ids(*, delivered_within: float) -> set[str]:
    """Ids of the tasks (jobs, gallery evaluations) whose messages the broker holds.

    Those waiting in the training or generation queue, and those delivered to a
    worker less than ``delivered_within`` seconds ago and not acknowledged yet (a
    delivery older than that, of a job still queued, belongs to a worker that
    died). Reads the Redis transport's keys: the queue lists (no priorities are
    used, so each queue is one list) and its ``unacked`` hash and index.
    """
    queues = sorted(
        {app.amqp.router.route({}, name)["queue"].name for name in (TRAIN, GENERATE)}
    )
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        client = channel.client
        with client.pipeline() as pipe:
            for queue in queues:
                pipe.lrange(queue, 0, -1)
            pipe.zrangebyscore(
                channel.unacked_index_key, time.time() - delivered_within, "+inf"
            )
            *waiting, recent = pipe.execute()
        delivered = client.hmget(channel.unacked_key, recent) if recent else []
    messages = [json.loads(raw) for raw in (m for queue in waiting for m in queue)]
    # An unacknowledged entry is [message, exchange, routing key].
    messages += [json.loads(raw)[0] for raw in delivered if raw is not None]
    return {str(message["headers"]["id"]) for message in messages}


def queue_lengths(queues: tuple[str, ...], *, timeout: float) -> dict[str, int]:
    """Messages waiting in each queue; raises if the broker does not answer."""
    # A connection of its own with short timeouts: a readiness probe must answer
    # within its own timeout even when the broker host is gone.
    client = redis.Redis.from_url(
        app.conf.broker_url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    try:
        # kombu's Redis transport keeps each queue's messages in a list of its name.
        return {queue: int(client.llen(queue)) for queue in queues}
    finally:
        client.close()
