"""Scale-out: two worker "hosts" (their own working directory, DATA_DIR and node
names, each on its own queues) against one PostgreSQL and one Redis. A model
trained on one generates on the other (model files live in the database), and a
training whose host dies is finished by the other host."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.integration_support import (
    BIG_TRAINING,
    Api,
    RedisDatabases,
    WorkerProcess,
    running_worker,
    sign_up,
    start_celery,
    stop_celery,
    wait_finished,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SMALL_TRAINING = {
    "name": "host a",
    "dataset": "digits",
    "n_components": 8,
    "bandwidth": 0.8,
    "n_train": 300,
    "class_conditional": True,
}
# The sweeper's queue: "generation" or its own "maintenance", whichever the
# settings route it to; host B takes both.
SWEEP_QUEUES = "generation,maintenance"


@dataclass
class Host:
    """A worker machine: its own directory (working directory and DATA_DIR)."""

    name: str
    root: Path
    env: dict[str, str]

    def worker(self, queues: str, node: str) -> Any:
        return running_worker(
            self.env,
            self.root / f"{node}.log",
            hostname=f"{node}@{self.name}",
            queues=queues,
            cwd=self.root,
        )


@pytest.fixture
def hosts(
    private_broker: RedisDatabases, process_env: dict[str, str], tmp_path: Path
) -> tuple[Host, Host]:
    made = []
    for name in ("host-a", "host-b"):
        root = tmp_path / name
        (root / "data").mkdir(parents=True)
        # The session's database and heartbeat timings (JOB_STALE_AFTER_SECONDS=3),
        # on this test's own broker; beat sweeps every second.
        env = {
            **process_env,
            "REDIS_URL": private_broker.broker_url,
            "DATA_DIR": str(root / "data"),
            "JOB_SWEEP_INTERVAL_SECONDS": "1",
        }
        made.append(Host(name, root, env))
    return made[0], made[1]


@contextmanager
def beat_on(host: Host) -> Iterator[WorkerProcess]:
    beat = start_celery(
        ["beat", "--loglevel", "INFO"], host.env, host.root / "beat.log", cwd=host.root
    )
    try:
        yield beat
    finally:
        stop_celery(beat)


def claimed(job_id: str, attempt: int) -> str:
    return f"Job {job_id} claimed (attempt {attempt})"


def test_a_model_trained_on_one_host_generates_on_the_other(
    live_server: Any, hosts: tuple[Host, Host]
) -> None:
    from webapp.jobs.models import ModelVersion

    host_a, host_b = hosts
    with (
        host_a.worker("training", "training") as trainer,
        host_b.worker(SWEEP_QUEUES, "generation") as generator,
    ):
        api = sign_up(Api(base_url=live_server.url), "scaler")
        status, job = api.post("/api/v1/training-runs", SMALL_TRAINING)
        assert status == 202, job
        trained = wait_finished(api, job["id"], trainer, generator)
        assert trained["state"] == "succeeded", trained
        assert claimed(job["id"], 1) in trainer.log()
        assert job["id"] not in generator.log()

        status, job = api.post(
            "/api/v1/generations",
            {"model_version": trained["model_version"], "n_images": 4, "seed": 3},
        )
        assert status == 202, job
        generated = wait_finished(api, job["id"], trainer, generator)
        assert generated["state"] == "succeeded", generated
        assert claimed(job["id"], 1) in generator.log()
        assert job["id"] not in trainer.log()
        status, gallery = api.get(f"/api/v1/galleries/{generated['gallery']}")
        assert status == 200, gallery
        assert len(gallery["images"]) == 4

    # The model reached host B through the database: no host wrote it to disk
    # (a host's DATA_DIR holds only its caches: data sets, the classifier).
    model_file = bytes(ModelVersion.objects.get(pk=trained["model_version"]).model_file)
    assert model_file
    for host in hosts:
        files = [p for p in (host.root / "data").rglob("*") if p.is_file()]
        assert not [p for p in files if p.read_bytes() == model_file], files


def test_a_training_whose_host_dies_is_finished_by_the_other_host(
    live_server: Any, hosts: tuple[Host, Host]
) -> None:
    from webapp.jobs.models import Job, ModelVersion

    host_a, host_b = hosts
    with ExitStack() as stack:
        # Both hosts take training jobs; host B also runs the sweeper's tasks.
        workers = {
            host_a.name: stack.enter_context(host_a.worker("training", "training")),
            host_b.name: stack.enter_context(host_b.worker("training", "training")),
        }
        sweeper = stack.enter_context(host_b.worker(SWEEP_QUEUES, "maintenance"))
        stack.enter_context(beat_on(host_b))
        api = sign_up(Api(base_url=live_server.url), "scaler")

        for _ in range(3):
            status, job = api.post("/api/v1/training-runs", BIG_TRAINING)
            assert status == 202, job
            job_id = job["id"]
            holder = wait_for(
                lambda job_id=job_id: next(
                    (
                        name
                        for name, worker in workers.items()
                        if claimed(job_id, 1) in worker.log()
                    ),
                    None,
                ),
                timeout=60,
                interval=0.005,
                what="a host to claim the training",
            )
            # The whole host goes: its worker's process group, pool included.
            dead = workers[holder]
            os.killpg(dead.process.pid, signal.SIGKILL)
            dead.process.wait(timeout=10)
            if Job.objects.get(pk=job_id).state == Job.State.RUNNING:
                break
            # It finished between the claim and the kill: start the other worker
            # again and try with a new job.
            workers[holder] = stack.enter_context(
                (host_a if holder == host_a.name else host_b).worker(
                    "training", "training"
                )
            )
        else:
            raise AssertionError("the training finished before its host was killed")

        (survivor,) = [w for name, w in workers.items() if name != holder]
        job = wait_finished(api, job_id, survivor, sweeper)
        assert job["state"] == "succeeded", job
        assert job["attempts"] == 2
        assert claimed(job_id, 2) in survivor.log()
        assert ModelVersion.objects.filter(training_job_id=job_id).count() == 1
