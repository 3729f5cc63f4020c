"""Generation jobs through the REST API: latency one at a time, then throughput.

Against gunicorn (2 workers, bench settings) and Celery worker processes on
DATABASE_URL and REDIS_URL (PostgreSQL and a Redis database this may fill):

1. ``--jobs`` (200) jobs of ``--images`` (16) images, one after the other, with one
   generation worker: submit (``POST /api/v1/generations``) -> ``succeeded``, polled
   without pause (or every ``--poll-interval`` ms); p50 and p99. Beside it, the
   floors: the same jobs through the issue's bare-bones probe of the same path
   (bench/probe.py: one table, no authentication, no middleware, the same
   gunicorn, Celery, Redis and PostgreSQL, sampling the same model), and a Celery
   round trip to the same worker that does nothing (``app.control.ping``), as often.
2. The same number of jobs from ``--clients`` (10) concurrent clients, with
   ``--throughput-workers`` (2) worker processes: jobs/s from the first submission
   to the last success, and that none was lost or duplicated; and the CPU time
   each job cost the web workers, the Celery worker and PostgreSQL (what a busy,
   shared machine changes least), with the rate the machine's cores would allow
   at that cost. Then the same through the probe.

    python -m bench.generation [--jobs 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from bench import probe
from bench.load import (
    REPO,
    call,
    free_port,
    prepare,
    require_services,
    running,
    wait_until_up,
)
from bench.polling import (
    SERVER_ENV,
    children,
    children_peak_rss_mb,
    cpu_seconds,
    database_backend_pids,
    gunicorn_command,
)

BENCH_ENV = {
    **SERVER_ENV,
    # The point is the path's own cost: keep the per-user limits out of its way.
    "WRITE_THROTTLE_RATE": "1000000/minute",
    "MAX_ACTIVE_GENERATION_JOBS": "1000",
    "GALLERY_EVALUATION": "0",
}


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Latencies:
    name: str
    seconds: list[float]

    def line(self) -> str:
        return (
            f"{self.name:<44} p50 {statistics.median(self.seconds) * 1000:7.1f} ms"
            f"  p99 {percentile(self.seconds, 0.99) * 1000:7.1f} ms"
            f"  ({len(self.seconds)} runs)"
        )


def worker_command(
    concurrency: int,
    name: str,
    app: str = "worker",
    queues: str = "training,generation",
) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", app, "worker",
        "-Q", queues, "--loglevel=WARNING", "--without-gossip",
        "--without-mingle", f"--concurrency={concurrency}", f"--hostname={name}",
    ]  # fmt: skip


@dataclass(frozen=True)
class Stack:
    base_url: str
    worker_name: str
    worker_pid: int
    web_pid: int
    submit_path: str = "/api/v1/generations"
    job_path: str = "/api/v1/jobs/{}"  # the job's id in the braces

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the web workers, the Celery worker (its main
        process and pool) and the database's server processes, by name."""
        return {
            "web": cpu_seconds(children(self.web_pid)),
            "Celery": cpu_seconds([self.worker_pid, *children(self.worker_pid)]),
            "PostgreSQL": cpu_seconds(database_backend_pids()),
        }


@contextmanager
def stack(worker_concurrency: int) -> Iterator[Stack]:
    """gunicorn and one Celery worker (``worker_concurrency`` processes)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    name = f"bench-{port}@localhost"
    env = {**os.environ, **BENCH_ENV}
    commands = [gunicorn_command(port, 2), worker_command(worker_concurrency, name)]
    with running(commands, env) as (web, worker):
        wait_until_up(base_url, timeout=60)
        yield Stack(base_url, name, worker.pid, web.pid)


@contextmanager
def probe_stack(worker_concurrency: int, model_id: int) -> Iterator[Stack]:
    """The bare-bones probe (bench/probe.py) of the same path, with the same
    gunicorn and Celery worker settings, sampling the model ``model_id``."""
    from webapp.jobs.models import ModelVersion
    from webapp.jobs.serving import model_file_bytes

    probe.create_table()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    name = f"bench-probe-{port}@localhost"
    content = model_file_bytes(ModelVersion.objects.get(pk=model_id))
    with tempfile.NamedTemporaryFile(suffix=".npz") as model_file:
        model_file.write(content)
        model_file.flush()
        env = {**os.environ, "PROBE_MODEL_FILE": model_file.name}
        commands = [
            gunicorn_command(port, 2, app="bench.probe:application"),
            worker_command(
                worker_concurrency, name, app="bench.probe", queues=probe.QUEUE
            ),
        ]
        with running(commands, env) as (web, worker):
            wait_until_up(base_url, timeout=60)
            yield Stack(base_url, name, worker.pid, web.pid, "/jobs", "/jobs/{}")


@dataclass(frozen=True)
class JobRun:
    """One job as its client saw it."""

    seconds: float  # submission to the poll that saw it finished
    submit_seconds: float  # the submission's POST alone
    state: str
    job_id: str


def one_job(
    api: Stack, token: str, body: dict[str, object], poll_interval: float = 0.0
) -> JobRun:
    """Submit and poll, ``poll_interval`` seconds apart (none: without pause),
    until finished."""
    started = time.perf_counter()
    answer = call(api.base_url, "POST", api.submit_path, token=token, body=body)
    if answer.status != 202:
        raise RuntimeError(f"submission refused: {answer.status} {answer.body}")
    submitted = time.perf_counter() - started
    path = api.job_path.format(answer.body["id"])
    while True:
        state = call(api.base_url, "GET", path, token=token).body["state"]
        if state in ("succeeded", "failed", "cancelled"):
            seconds = time.perf_counter() - started
            return JobRun(seconds, submitted, state, answer.body["id"])
        if time.perf_counter() - started > 60:
            raise TimeoutError(f"{path} still {state} after 60 s")
        time.sleep(poll_interval)


def ping_round_trips(worker_name: str, count: int) -> list[float]:
    """A Celery round trip to the worker that does nothing, ``count`` times."""
    from worker.celery_app import app

    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        if not app.control.ping(destination=[worker_name], timeout=5.0):
            raise RuntimeError(f"{worker_name} did not answer a ping")
        seconds.append(time.perf_counter() - started)
    return seconds


def trained_model(
    public_model: Callable[[], int | None], timeout: float = 300.0
) -> int:
    """The demo model's id; when it is not trained yet, a worker of its own
    trains it first, so that no measured worker process holds training's peak
    RSS (the first run on a fresh database read 184 MB for generation's ~100)."""
    if (model_id := public_model()) is not None:
        return model_id
    env = {**os.environ, **BENCH_ENV}
    with running([worker_command(1, f"bench-training-{os.getpid()}@localhost")], env):
        deadline = time.monotonic() + timeout
        while (model_id := public_model()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the demo model was not trained in time")
            time.sleep(0.2)
    return model_id


def breakdown(runs: Sequence[JobRun]) -> str:
    """Where the jobs' time went, medians: the POST; from the job's row written
    to the worker's claim, and on to its result (the database's timestamps); and
    from the POST's answer to the poll that saw the job finished."""
    from django.db.models import DurationField, ExpressionWrapper, F
    from django.db.models.expressions import CombinedExpression

    from webapp.jobs.models import Job

    def interval(start: str, end: str) -> ExpressionWrapper[CombinedExpression]:
        return ExpressionWrapper(F(end) - F(start), output_field=DurationField())

    intervals = list(
        Job.objects.filter(pk__in=[run.job_id for run in runs]).values_list(
            interval("created_at", "started_at"), interval("started_at", "finished_at")
        )
    )

    def median_ms(values: Iterable[float]) -> float:
        return 1e3 * statistics.median(values)

    return (
        "where a job's time goes (medians): the POST "
        f"{median_ms(run.submit_seconds for run in runs):.1f} ms; row written -> "
        "claimed by the worker "
        f"{median_ms(queued.total_seconds() for queued, _ in intervals):.1f} ms; "
        "claimed -> result written "
        f"{median_ms(running.total_seconds() for _, running in intervals):.1f} ms; "
        "POST answered -> seen finished "
        f"{median_ms(run.seconds - run.submit_seconds for run in runs):.1f} ms"
    )


def sequential_jobs(
    api: Stack, token: str, body: dict[str, object], jobs: int, poll_interval: float
) -> list[JobRun]:
    """``jobs`` jobs one after the other (after three to warm up: the worker
    loads the model once); each must succeed."""
    for seed in range(3):
        one_job(api, token, {**body, "seed": seed})
    results = [
        one_job(api, token, {**body, "seed": seed}, poll_interval)
        for seed in range(jobs)
    ]
    if any(run.state != "succeeded" for run in results):
        raise RuntimeError(f"a job of {api.base_url} did not succeed")
    return results


@dataclass(frozen=True)
class Throughput:
    """Jobs from concurrent clients, as they saw them, and the CPU time each job
    cost the server side (`Stack.cpu_seconds`), in ms."""

    runs: list[JobRun]
    seconds: float
    cpu_ms: dict[str, float]

    @property
    def jobs_per_second(self) -> float:
        return len(self.runs) / self.seconds

    def lines(self, name: str) -> list[str]:
        jobs = len(self.runs)
        succeeded = sum(run.state == "succeeded" for run in self.runs)
        distinct = len({run.job_id for run in self.runs})
        total = sum(self.cpu_ms.values())
        cores = os.cpu_count() or 1
        return [
            f"{name}: {self.jobs_per_second:.1f} jobs/s, {succeeded}/{jobs} "
            f"succeeded ({distinct} distinct jobs); p50 "
            f"{statistics.median(r.seconds for r in self.runs) * 1000:.0f} ms per job",
            "  CPU per job: "
            + ", ".join(f"{part} {ms:.2f} ms" for part, ms in self.cpu_ms.items())
            + f" (total {total:.1f} ms: {cores} cores allow "
            f"{1e3 * cores / total:.0f} jobs/s at that, the client's own CPU aside)",
        ]


def concurrent_jobs(
    api: Stack,
    tokens: Sequence[str],
    body: dict[str, object],
    jobs: int,
    poll_interval: float,
) -> Throughput:
    """``jobs`` jobs from one client per token (after one to warm up)."""
    one_job(api, tokens[0], {**body, "seed": 0})
    clients = len(tokens)

    def client(index: int) -> list[JobRun]:
        return [
            one_job(api, tokens[index], {**body, "seed": seed}, poll_interval)
            for seed in range(index, jobs, clients)
        ]

    before = api.cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = [run for runs in pool.map(client, range(clients)) for run in runs]
    elapsed = time.perf_counter() - started
    after = api.cpu_seconds()
    cpu_ms = {part: 1e3 * (after[part] - before[part]) / jobs for part in after}
    return Throughput(runs, elapsed, cpu_ms)


def figures(
    jobs: int, images: int, clients: int, workers: int, poll_interval: float = 0.0
) -> list[str]:
    """The lines of both parts (see the module's doc), each beside its floors:
    the same jobs through the bare-bones probe (bench/probe.py) in the same run,
    and for one job at a time a Celery ping too."""
    tokens, public_model = prepare(clients)
    model_id = trained_model(public_model)
    body: dict[str, object] = {"model_version": model_id, "n_images": images}
    with stack(1) as running_stack:
        runs = sequential_jobs(running_stack, tokens[0], body, jobs, poll_interval)
        ping = ping_round_trips(running_stack.worker_name, jobs)
        peak = children_peak_rss_mb(running_stack.worker_pid)
    with probe_stack(1, model_id) as running_probe:
        probe_runs = sequential_jobs(running_probe, "", body, jobs, poll_interval)
    job = Latencies(
        f"{images}-image job, submit -> succeeded", [r.seconds for r in runs]
    )
    probe_job = Latencies(
        "the same through the probe (bench/probe.py)", [r.seconds for r in probe_runs]
    )
    floor = Latencies("no-op Celery round trip (control ping)", ping)
    p50 = statistics.median(job.seconds)
    lines = [
        job.line(),
        probe_job.line(),
        floor.line(),
        f"=> p50 {p50 / statistics.median(floor.seconds):.1f} x the Celery ping's, "
        f"{p50 / statistics.median(probe_job.seconds):.2f} x the probe's",
        breakdown(runs),
        f"peak RSS of the generation worker process: {peak:.0f} MB",
    ]
    with stack(workers) as running_stack:
        product = concurrent_jobs(running_stack, tokens, body, jobs, poll_interval)
    with probe_stack(workers, model_id) as running_probe:
        probe_jobs = concurrent_jobs(
            running_probe, [""] * clients, body, jobs, poll_interval
        )
    where = f"{jobs} jobs from {clients} clients, {workers} worker processes"
    return [
        *lines,
        *product.lines(where),
        *probe_jobs.lines("the same through the probe"),
        f"=> {product.jobs_per_second / probe_jobs.jobs_per_second:.2f} x the "
        "probe's jobs/s",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--throughput-workers", type=int, default=2)
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.0,
        help="ms between a client's status polls (default 0: without pause)",
    )
    args = parser.parse_args(argv)
    require_services(parser)
    os.environ.update(BENCH_ENV)
    for line in figures(
        args.jobs,
        args.images,
        args.clients,
        args.throughput_workers,
        args.poll_interval / 1000,
    ):
        print(line)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
