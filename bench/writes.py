"""What one generation job writes to PostgreSQL: WAL bytes and the database's CPU.

In-process on DATABASE_URL: ``--jobs`` (300) 16-image jobs of the public model,
each submitted through `services.create_generation_job` (the broker call stubbed:
only the database's work is measured) and run by `runner.run_generation_job`, as a
worker would; ``--repeats`` (5) times. Prints per job the medians of the WAL
written (``pg_current_wal_lsn()``: the same code writes the same bytes, whatever
else the machine does) and of the database backend's and this process's CPU time.
The jobs and galleries stay (users ``bench-writes-*``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/studio_bench python -m bench.writes
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from bench.load import REPO, create_database


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stubbed_broker() -> Any:
    """A patch of webapp's sending of jobs: what is measured is in-process."""
    from webapp.jobs import dispatch

    return mock.patch.multiple(dispatch, generate=mock.DEFAULT, train=mock.DEFAULT)


def public_model() -> Any:
    """Set up Django (bench.settings unless set), migrate DATABASE_URL and give it
    the demo model, trained in this process the first time; its model version."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.core.management import call_command

    from webapp.jobs import maintenance, runner
    from webapp.jobs.models import Job, ModelVersion

    call_command("migrate", verbosity=0)
    if (model := ModelVersion.objects.filter(is_public=True).first()) is None:
        with stubbed_broker():
            maintenance.seed_demo_model(preset="preview")
        training = Job.objects.demo_trainings().first()
        assert training is not None
        runner.run_training_job(training.pk)
        model = ModelVersion.objects.get(is_public=True)
    return model


def measure(jobs: int, repeats: int) -> list[str]:
    """The lines of figures; DATABASE_URL is migrated and given the demo model."""
    model = public_model()
    from django.contrib.auth.models import User
    from django.db import connection

    from webapp.jobs import runner, services
    from webapp.jobs.models import Job

    broker = stubbed_broker()
    owner = User.objects.create_user(f"bench-writes-{uuid.uuid4().hex[:8]}")

    def run(count: int, first_seed: int) -> None:
        with broker:
            for seed in range(first_seed, first_seed + count):
                job = services.create_generation_job(
                    owner, model_version=model, n_images=16, seed=seed
                )
                if runner.run_generation_job(job.pk) is not runner.RunOutcome.RAN:
                    raise RuntimeError(f"job {job.pk} did not run")

    def wal_bytes() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
            return int(cursor.fetchone()[0])

    run(20, 0)  # warm: the model cached, the statements prepared
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    wal, database, client = [], [], []
    for repeat in range(repeats):
        before = wal_bytes(), _cpu_seconds(backend), time.process_time()
        run(jobs, 1000 + repeat * jobs)
        after = wal_bytes(), _cpu_seconds(backend), time.process_time()
        wal.append((after[0] - before[0]) / jobs)
        database.append(1e3 * (after[1] - before[1]) / jobs)
        client.append(1e3 * (after[2] - before[2]) / jobs)
    succeeded = Job.objects.filter(owner=owner, state=Job.State.SUCCEEDED).count()
    return [
        f"{succeeded} generation jobs of 16 images, {repeats} x {jobs} measured",
        *(
            f"{name} per job: median {statistics.median(values):,.2f} "
            f"(min {min(values):,.2f}, max {max(values):,.2f})"
            for name, values in (
                ("WAL bytes", wal),
                ("PostgreSQL backend CPU ms", database),
                ("this process's CPU ms", client),
            )
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL database this may fill")
    create_database(os.environ["DATABASE_URL"])
    for line in measure(args.jobs, args.repeats):
        print(line)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
