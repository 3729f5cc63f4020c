"""The benchmark suite: every figure of BENCHMARKS.md beside its floor, in one run.

    python -m bench [--quick] [--only SECTION ...]

Sections, in this order (each module also runs alone, ``python -m bench.<module>
--help``):

- training: ``train_model`` with the notebook's settings (median of ``--repeats``)
  beside the old scikit-learn pipeline run in the same process (``--quick``
  estimates it from 2,500 and 5,000 images instead of running it on 10,000);
- growth: training time, CPU time and peak RSS against the training images
  (digits, 10k, 20k, 40k, 60k) and the grid size (10, 20, 50), with the exact
  search of every bandwidth beside it up to 20k (bench/growth.py);
- polling: the job poll, /healthz and /api/schema/ under gunicorn beside a
  constant DRF view, with wrk, and a web worker's peak RSS (bench/polling.py);
- generation: 16-image jobs one at a time beside a Celery ping, then from 10
  clients, each beside the same jobs through the issue's bare-bones probe of
  their path (bench/probe.py), and the generation worker's peak RSS
  (bench/generation.py);
- backlog: a submission's figures and a queued job's poll against the queue's
  length, beside the empty queue (bench/backlog.py);
- writes: the WAL and database CPU of one generation job (bench/writes.py);
- pages: the job page and 256-image galleries in Chromium (bench/pages.py).

All but training and growth need DATABASE_URL and REDIS_URL (a PostgreSQL database
and a Redis database the run may fill); ``make bench`` sets them.
About 8 minutes on an idle 2-core machine.

Outside the suite, for a change too small to see in times on a busy machine:
``python -m bench.instructions``, the instructions of a poll, a submission and a
job's run, counted by valgrind's callgrind beside a constant DRF view's (about 5
minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from bench import backlog, generation, growth, pages, polling, writes
from bench.load import require_services
from bench.train import notebook_baseline

SECTIONS = ("training", "growth", "polling", "generation", "backlog", "writes", "pages")
NEEDS_SERVICES = ("polling", "generation", "backlog", "writes", "pages")


def training(quick: bool, repeats: int) -> None:
    from generator.datasets import load_dataset
    from generator.settings import PRESETS
    from generator.training import train_model

    settings = PRESETS["notebook"]
    load_dataset(settings.dataset)  # cached outside the timings
    baseline = notebook_baseline(
        settings.n_train, None, settings.seed, quick=quick, report=_indented
    )
    runs, cpu_runs = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = train_model(settings)
        runs.append(time.perf_counter() - started)
        cpu_runs.append(time.process_time() - cpu_started)
    median = statistics.median(runs)
    seconds = result.metrics["seconds"]
    _indented(
        f"ours: median {median:.2f} s over {repeats} runs (min {min(runs):.2f}, "
        f"max {max(runs):.2f}), {statistics.median(cpu_runs):.2f} CPU s; search "
        f"{seconds['search']:.2f} s of the last; bandwidth "
        f"{result.metrics['bandwidth']:.4g}, "
        f"{sum(result.metrics['cv']['exact'])} of "
        f"{len(result.metrics['cv']['exact'])} "
        "bandwidths computed"
    )
    _indented(
        f"=> {baseline / median:.0f}x the old pipeline"
        + (" (estimated)" if quick else " (measured in this run)")
    )


def growth_curves() -> None:
    by_size, by_grid = growth.curves(
        [growth.DIGITS, 10_000, 20_000, 40_000, 60_000], [10, 20, 50], before=True
    )
    for run in (*by_size, *by_grid):
        _indented(run.line())


def polling_figures() -> None:
    for line in polling.figures()[1:]:
        _indented(line)


def generation_figures() -> None:
    for line in generation.figures(200, 16, 10, 2):
        _indented(line)


def backlog_figures() -> None:
    figures = backlog.measure(51)
    for result in figures:
        _indented(result.line(figures[result.vacuumed]))


def writes_figures() -> None:
    for line in writes.measure(300, 5):
        _indented(line)


def page_figures() -> None:
    for result in pages.measure(5):
        _indented(result.line())


def _indented(line: str) -> None:
    print("  " + line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="estimate the baseline")
    parser.add_argument("--repeats", type=int, default=3, help="training runs")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    args = parser.parse_args(argv)
    if set(args.only) & set(NEEDS_SERVICES):
        require_services(parser)
    os.environ.update(generation.BENCH_ENV)
    sections: dict[str, Callable[[], None]] = {
        "training": lambda: training(args.quick, args.repeats),
        "growth": growth_curves,
        "polling": polling_figures,
        "generation": generation_figures,
        "backlog": backlog_figures,
        "writes": writes_figures,
        "pages": page_figures,
    }
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line),
            "unknown CPU",
        )
    print(f"machine: {os.cpu_count()} CPUs, {model}; load {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    for name in args.only:
        section_started = time.perf_counter()
        print(f"{name}:", flush=True)
        sections[name]()
        _indented(f"({time.perf_counter() - section_started:.0f} s)")
    print(f"suite: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
