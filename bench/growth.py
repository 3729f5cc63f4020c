"""Training time and memory as the data and the grid grow.

Each run is ``train_model`` with the notebook's settings (MNIST, PCA(50), gaussian
kernel, 5-fold CV over 20 bandwidths from 0.1 to 10) but for the training images
(digits' 1,438, then 10,000 to 60,000 MNIST images) or the grid size (10, 20, 50
bandwidths at 10,000 images). Every run is a fresh process, so its peak RSS is
the training worker's. ``--before`` adds, for each size, the exact search of every
bandwidth (`cross_validate_bandwidth`, what training ran before
`search_bandwidth`) on the same PCA projection.

    python -m bench.growth [--sizes 10000 60000] [--grids 10 20 50] [--before]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.load import REPO
from bench.polling import peak_rss_mb

DIGITS = 0  # "size" of the digits run: all of its training images


@dataclass(frozen=True)
class Run:
    label: str
    n_train: int
    grid_size: int
    seconds: float
    cpu_seconds: float
    search_seconds: float
    peak_rss_mb: float
    bandwidth: float
    computed: int
    exact_search_seconds: float | None

    def line(self) -> str:
        before = (
            ""
            if self.exact_search_seconds is None
            else f"  exact search of every bandwidth {self.exact_search_seconds:6.2f} s"
            f" ({self.exact_search_seconds / self.search_seconds:4.1f}x)"
        )
        return (
            f"{self.label:<14} {self.n_train:>6} images  {self.grid_size:>2} bandwidths"
            f"  train {self.seconds:6.2f} s, {self.cpu_seconds:6.2f} CPU s"
            f" (search {self.search_seconds:6.2f} s,"
            f" {self.computed} computed)  peak RSS {self.peak_rss_mb:5.0f} MB"
            f"  bandwidth {self.bandwidth:.4g}{before}"
        )


def one_run(size: int, grid_size: int, before: bool) -> dict[str, Any]:
    """Train once in this process; what `Run` holds, as JSON."""
    from generator.datasets import load_dataset
    from generator.search import bandwidth_grid_values, cross_validate_bandwidth
    from generator.settings import validate_settings
    from generator.training import train_model, training_subset

    grid = {"start": 0.1, "stop": 10.0, "num": grid_size}
    data: dict[str, Any] = {"bandwidth_grid": grid}
    data.update({"dataset": "digits"} if size == DIGITS else {"n_train": size})
    settings = validate_settings(data)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train_model(settings)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    cv = result.model.cv_result_
    exact_seconds = None
    if before:
        subset = training_subset(load_dataset(settings.dataset), settings)
        projected = result.model.pca_.transform(subset.features("train"))
        started = time.perf_counter()
        exact = cross_validate_bandwidth(
            projected,
            bandwidth_grid_values(settings.bandwidth_grid),
            n_folds=settings.cv_folds,
            random_state=settings.seed,
        )
        exact_seconds = time.perf_counter() - started
        if exact.best_bandwidth != result.metrics["bandwidth"]:
            raise AssertionError("the exact search chose another bandwidth")
    return {
        "label": "digits" if size == DIGITS else "MNIST",
        "n_train": settings.n_train,
        "grid_size": grid_size,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "search_seconds": result.metrics["seconds"]["search"],
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec.
        "peak_rss_mb": peak_rss_mb(os.getpid()),
        "bandwidth": result.metrics["bandwidth"],
        "computed": sum(result.metrics["cv"]["exact"]) if cv is not None else 0,
        "exact_search_seconds": exact_seconds,
    }


def run(size: int, grid_size: int, *, before: bool = False) -> Run:
    """`one_run` in a fresh process."""
    command = [sys.executable, "-m", "bench.growth", "--one", str(size), str(grid_size)]
    if before:
        command.append("--before")
    output = subprocess.run(
        command, cwd=REPO, check=True, capture_output=True, text=True, timeout=1800
    ).stdout
    return Run(**json.loads(output.splitlines()[-1]))


def curves(
    sizes: Sequence[int], grids: Sequence[int], *, before: bool
) -> tuple[list[Run], list[Run]]:
    """Runs against the training images (20 bandwidths), then the grid size (10k)."""
    by_size = [run(size, 20, before=before and size <= 20_000) for size in sizes]
    by_grid = [run(10_000, grid) for grid in grids]
    return by_size, by_grid


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[0, 10_000, 20_000, 40_000, 60_000],
        help="0 means digits",
    )
    parser.add_argument("--grids", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--one", type=int, nargs=2, metavar=("SIZE", "GRID"))
    args = parser.parse_args(argv)
    if args.one:
        size, grid_size = args.one
        print(json.dumps(one_run(size, grid_size, args.before)))
        return 0
    by_size, by_grid = curves(args.sizes, args.grids, before=args.before)
    for result in (*by_size, *by_grid):
        print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
