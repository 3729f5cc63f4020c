"""Training and sampling speed on the full MNIST: the old notebook's pipeline vs ours.

The old notebook: scikit-learn ``PCA(50)`` on 10,000 training images, then
``GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1, 1, 20)}, cv=5)``
and a final fit. Ours: ``train_model(PRESETS["notebook"])`` with the same
settings (load, PCA, exact search, fit), repeated; the median is reported.
Then images/s for sampling 16 and 10,000 images, PNG encoding included.

The two pipelines may pick neighbouring grid bandwidths: besides different folds,
scikit-learn's tree-based ``KernelDensity`` overestimates held-out log-likelihoods
at small bandwidths (measured on one fold of this data: -41.9 at h=0.428 where a
brute-force log-sum-exp gives -47.6), which pulls its choice down a grid step.

Usage::

    .venv/bin/python bench/train.py                 # full baseline (~150 s)
    .venv/bin/python bench/train.py --quick         # baseline estimated from subsets
    .venv/bin/python bench/train.py --skip-baseline
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.datasets import load_dataset
from generator.render import grid_to_png, image_to_png
from generator.settings import PRESETS
from generator.training import train_model

NOTEBOOK_BANDWIDTHS = np.logspace(-1, 1, 20)


def notebook_pipeline(
    n_train: int, data_dir: Path | None, seed: int
) -> tuple[float, float]:
    """Run the old pipeline on ``n_train`` images; return (seconds, best bandwidth)."""
    from sklearn.decomposition import PCA
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    started = time.perf_counter()
    dataset = load_dataset("mnist", data_dir=data_dir)
    features = dataset.features("train")
    rows = np.random.default_rng(seed).choice(features.shape[0], n_train, replace=False)
    projected = PCA(n_components=50, whiten=False).fit_transform(features[rows])
    search = GridSearchCV(KernelDensity(), {"bandwidth": NOTEBOOK_BANDWIDTHS}, cv=5)
    search.fit(projected)
    search.best_estimator_.fit(projected)
    return time.perf_counter() - started, float(search.best_params_["bandwidth"])


def notebook_baseline(
    n_train: int,
    data_dir: Path | None,
    seed: int,
    *,
    quick: bool,
    report: Callable[[str], None],
) -> float:
    """Seconds of the old pipeline on ``n_train`` images: run, or with ``quick``
    estimated from 2,500 and 5,000 images (a power law through both)."""
    if not quick:
        seconds, best = notebook_pipeline(n_train, data_dir, seed)
        report(
            f"notebook pipeline (scikit-learn): {seconds:.1f} s, "
            f"best bandwidth {best:.4g}"
        )
        return seconds
    sizes = (2500, 5000)
    times = []
    for size in sizes:
        seconds, best = notebook_pipeline(size, data_dir, seed)
        times.append(seconds)
        report(f"notebook pipeline, {size} images: {seconds:.1f} s (best {best:.3g})")
    exponent = float(np.log(times[1] / times[0]) / np.log(sizes[1] / sizes[0]))
    estimate = times[1] * (n_train / sizes[1]) ** exponent
    report(
        f"notebook pipeline, {n_train} images: ~{estimate:.1f} s "
        f"(ESTIMATED: time ~ n^{exponent:.2f})"
    )
    return float(estimate)


def timed(function: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    seconds = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), seconds, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quick",
        action="store_true",
        help="estimate the baseline from 2,500 and 5,000 images (power-law fit)",
    )
    group.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--repeats", type=int, default=5, help="runs of ours")
    parser.add_argument("--data-dir", type=Path)
    arguments = parser.parse_args(argv)

    settings = PRESETS["notebook"]
    print(
        f"settings: {settings.dataset}, PCA({settings.n_components}), "
        f"{settings.kernel} kernel, {settings.bandwidth_grid[2]} bandwidths "
        f"logspace({settings.bandwidth_grid[0]}, {settings.bandwidth_grid[1]}), "
        f"{settings.cv_folds} folds, n_train={settings.n_train}"
    )
    load_dataset("mnist", data_dir=arguments.data_dir)  # fetch + cache outside timing

    baseline: float | None = None
    if not arguments.skip_baseline:
        baseline = notebook_baseline(
            settings.n_train,
            arguments.data_dir,
            settings.seed,
            quick=arguments.quick,
            report=print,
        )

    median, runs, result = timed(
        lambda: train_model(settings, data_dir=arguments.data_dir), arguments.repeats
    )
    phases = ", ".join(
        f"{phase} {seconds:.2f}" for phase, seconds in result.metrics["seconds"].items()
    )
    print(
        f"ours (train_model): median {median:.2f} s over {len(runs)} runs "
        f"[{', '.join(f'{s:.2f}' for s in runs)}]; best bandwidth "
        f"{result.metrics['bandwidth']:.4g}; last run: {phases}"
    )
    if baseline is not None:
        print(f"speed-up: {baseline / median:.0f}x (notebook / ours)")

    model = result.model
    for n_images in (16, 10_000):

        def sample_and_encode(n: int = n_images) -> None:
            images = model.sample(n, random_state=0)
            for image in images:
                image_to_png(image)
            grid_to_png(images[:256])

        repeats = 5 if n_images <= 16 else 3
        median_sample, _, _ = timed(sample_and_encode, repeats)
        print(
            f"sample + PNG encode {n_images:>6} images: {median_sample * 1000:8.1f} ms"
            f" = {n_images / median_sample:10.0f} images/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
