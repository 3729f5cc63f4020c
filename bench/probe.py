"""The performance issue's bare-bones probe of a generation job's path: the floor
bench/generation.py measures the product's jobs beside.

The same plumbing as the product and nothing else: gunicorn (2 sync workers) in
front of a plain WSGI function, one table, no authentication, no middleware, no
Django; a Celery worker (prefork, late acknowledgement, prefetch 1, JSON) on the
same Redis; PostgreSQL through psycopg. A job samples the demo model's images as
the product's does (`ImageGenerator.sample_seeds`, one PNG each) and stores them
in its row:

- ``POST /jobs`` with ``{"seed": s, "n_images": n}``: a queued row, its task sent,
  ``202 {"id": ...}``;
- ``GET /jobs/<id>``: ``{"id": ..., "state": ...}`` (and ``GET /healthz``);
- the task: the row running, the images sampled, then the row succeeded with them.

The issue measured such a probe at p50 11-15 ms a job and 116-137 jobs/s from 10
clients, where its targets for the product are 15 ms and 120 jobs/s. Run by
bench/generation.py: the web side as ``gunicorn bench.probe:application``, the
worker as ``celery -A bench.probe worker``, with PROBE_MODEL_FILE naming the model
file (`generator.io.save_model`'s format) and DATABASE_URL and REDIS_URL as for
the product.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from celery import Celery

from generator.io import load_model
from generator.model import ImageGenerator
from generator.render import image_to_png

QUEUE = "probe"
MAX_IMAGES = 1024
TASK = "probe.generate"
TABLE = """
CREATE TABLE IF NOT EXISTS bench_probe_job (
    id uuid PRIMARY KEY,
    state text NOT NULL,
    seed integer NOT NULL,
    n_images integer NOT NULL,
    images bytea[],
    created_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    finished_at timestamptz
)
"""

app = Celery("probe", broker=os.environ.get("REDIS_URL"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@functools.cache
def _connection() -> psycopg.Connection[Any]:
    """This process's connection (each gunicorn worker and pool process opens its
    own, after the fork)."""
    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def create_table() -> None:
    """The probe's one table, emptied."""
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(TABLE)
        connection.execute("TRUNCATE bench_probe_job")


@functools.cache
def _model() -> ImageGenerator:
    model, _ = load_model(os.environ["PROBE_MODEL_FILE"])
    return model


@app.task(name=TASK)  # type: ignore[untyped-decorator]
def generate(job_id: str) -> None:
    connection = _connection()
    row = connection.execute(
        "UPDATE bench_probe_job SET state = 'running' WHERE id = %s "
        "AND state = 'queued' RETURNING seed, n_images",
        (job_id,),
    ).fetchone()
    if row is None:
        return
    seed, n_images = row
    images = _model().sample_seeds(range(seed, seed + n_images))
    connection.execute(
        "UPDATE bench_probe_job SET state = 'succeeded', images = %s, "
        "finished_at = statement_timestamp() WHERE id = %s",
        ([image_to_png(image) for image in images], job_id),
    )


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _answer(
    start_response: StartResponse, status: str, body: dict[str, Any]
) -> Iterable[bytes]:
    content = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(content)))],
    )
    return [content]


def application(
    environ: dict[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    """``POST /jobs``, ``GET /jobs/<id>`` and ``GET /healthz`` (for
    `bench.load.wait_until_up`); anything else is a 404."""
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if path == "/healthz":
        return _answer(start_response, "200 OK", {"status": "ok"})
    connection = _connection()
    if method == "POST" and path == "/jobs":
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length))
            seed, n_images = int(body["seed"]), int(body["n_images"])
            if not (0 <= seed < 2**31 and 1 <= n_images <= MAX_IMAGES):
                raise ValueError
        except (ValueError, TypeError, KeyError):
            detail = (
                'a JSON object: "seed" an integer from 0 to 2**31 - 1, '
                f'"n_images" from 1 to {MAX_IMAGES}'
            )
            return _answer(start_response, "400 Bad Request", {"detail": detail})
        job_id = str(uuid.uuid4())
        connection.execute(
            "INSERT INTO bench_probe_job (id, state, seed, n_images) "
            "VALUES (%s, 'queued', %s, %s)",
            (job_id, seed, n_images),
        )
        app.send_task(TASK, args=[job_id], queue=QUEUE)
        return _answer(start_response, "202 Accepted", {"id": job_id})
    if method == "GET" and path.startswith("/jobs/"):
        job_id = path.removeprefix("/jobs/")
        try:
            uuid.UUID(job_id)
        except ValueError:
            row = None
        else:
            row = connection.execute(
                "SELECT state FROM bench_probe_job WHERE id = %s", (job_id,)
            ).fetchone()
        if row is not None:
            return _answer(start_response, "200 OK", {"id": job_id, "state": row[0]})
    return _answer(start_response, "404 Not Found", {"detail": "Not found."})
