"""What a submission and a queued job's poll ask of the database as the queue grows.

For an owner with 100,000 finished jobs behind them and 0, 1,000, 10,000 and
50,000 jobs of another user queued ahead, in-process on DATABASE_URL (PostgreSQL):

- a submission's figures (`limits.check_can_queue`: the owner's lock, their
  active jobs and storage, and how many jobs are queued: the new job's place);
- the polls of the owner's two queued jobs (`polling`'s query, their queue
  positions with it): the last in the queue, and the first;

each the median of ``--repeats`` runs, beside the same with the queue empty in
this run; first right after the backlog was written (with fresh statistics, as
autoanalyze gives, but before a vacuum marks its pages all-visible), then once
vacuumed (as autovacuum leaves a table). The rows it adds (jobs named
``bench-backlog``, users ``bench-backlog-*``) are removed at the end, and the
table vacuumed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/studio_bench python -m bench.backlog
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.load import REPO, create_database

BACKLOGS = (0, 1_000, 10_000, 50_000)
HISTORY = 100_000
NAME = "bench-backlog"

# Rows written straight in SQL: 150,000 through the ORM would take minutes.
_INSERT_JOBS = """
INSERT INTO jobs_job (id, owner_id, kind, name, state, params, publish_model,
    progress, phase, attempts, error, log_tail, cancel_requested, requeue_requested,
    celery_task_id, created_at, dispatched_at)
SELECT gen_random_uuid(), %s, 'generation', %s, %s, '{}', false, 0, '', 0, '', '',
    false, false, '', %s - (%s + i) * interval '1 ms', now()
FROM generate_series(1, %s) i
"""


@dataclass(frozen=True)
class Figures:
    backlog: int
    vacuumed: bool
    submission_ms: float
    last_poll_ms: float
    first_poll_ms: float

    def line(self, empty: Figures) -> str:
        return (
            f"{self.backlog:>6,} queued, {'vacuumed' if self.vacuumed else 'fresh':8}: "
            "a submission's figures "
            f"{self.submission_ms:5.2f} ms "
            f"({self.submission_ms / empty.submission_ms:4.1f} x the empty queue's); "
            f"the poll of the last queued job {self.last_poll_ms:5.2f} ms "
            f"({self.last_poll_ms / empty.last_poll_ms:4.1f} x), of the first "
            f"{self.first_poll_ms:5.2f} ms "
            f"({self.first_poll_ms / empty.first_poll_ms:4.1f} x)"
        )


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm: the first run prepares the statement
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return 1e3 * statistics.median(seconds)


@dataclass(frozen=True)
class Scene:
    owner_id: int
    other_id: int
    last_id: str  # the owner's newest queued job
    last_created_at: dt.datetime
    first_id: str  # the owner's queued job older than any other


@contextmanager
def scene() -> Iterator[Scene]:
    """The owner (their history, and two queued jobs: the newest and one older
    than any other) and the other user, removed again after."""
    from django.contrib.auth.models import User
    from django.db import connection

    from webapp.jobs.models import Job

    run = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(f"{NAME}-{run}-owner")
    other = User.objects.create_user(f"{NAME}-{run}-other")
    try:
        first, last = (
            Job.objects.create(
                owner=owner, kind=Job.Kind.GENERATION, name=NAME, params={}
            )
            for _ in range(2)
        )
        Job.objects.filter(pk=first.pk).update(
            created_at=first.created_at.replace(year=2000)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_JOBS,
                [owner.pk, NAME, "succeeded", last.created_at, 10**9, HISTORY],
            )
        yield Scene(owner.pk, other.pk, str(last.pk), last.created_at, str(first.pk))
    finally:
        Job.objects.filter(name=NAME).delete()
        User.objects.filter(pk__in=[owner.pk, other.pk]).delete()
        # Now, rather than by autovacuum during whatever is measured next.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE jobs_job")


def measure(repeats: int) -> list[Figures]:
    """The figures at each backlog, fresh then vacuumed (DATABASE_URL migrated)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)

    from webapp.jobs import limits, polling

    class _Rollback(Exception):
        pass

    def submission_figures(owner_id: int) -> None:
        try:
            with transaction.atomic():
                limits.check_can_queue(owner_id, "generation")
                raise _Rollback
        except _Rollback:
            pass

    poll = polling._job_query()
    figures = []
    with scene() as scene_:
        owner_id = scene_.owner_id

        def poll_row(job_id: str = scene_.last_id) -> dict[str, Any] | None:
            return poll.first(owner_id=owner_id, pk=job_id)

        # Jobs the database already holds queued (earlier runs') are ahead too.
        start = poll_row()
        already = 0 if start is None else int(start["queue_position"]) - 1
        queued = 0
        for backlog in BACKLOGS:
            with connection.cursor() as cursor:
                # Older than the owner's job: all of it is ahead of it.
                cursor.execute(
                    _INSERT_JOBS,
                    [
                        scene_.other_id,
                        NAME,
                        "queued",
                        scene_.last_created_at,
                        queued,
                        backlog - queued,
                    ],
                )
            queued = backlog
            row = poll_row()
            if row is None or row["queue_position"] != already + backlog + 1:
                raise RuntimeError(f"the owner's job is not behind the queue: {row}")
            for vacuumed in (False, True):
                with connection.cursor() as cursor:
                    # Outside a transaction: Django's connection autocommits.
                    cursor.execute(f"{'VACUUM ' if vacuumed else ''}ANALYZE jobs_job")
                figures.append(
                    Figures(
                        already + backlog,
                        vacuumed,
                        median_ms(lambda: submission_figures(owner_id), repeats),
                        median_ms(poll_row, repeats),
                        median_ms(lambda: poll_row(scene_.first_id), repeats),
                    )
                )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=51)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL database this may fill")
    create_database(os.environ["DATABASE_URL"])
    figures = measure(args.repeats)
    for result in figures:
        print(result.line(figures[result.vacuumed]))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
