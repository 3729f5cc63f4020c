"""Which classifier scores galleries: the cached MLP, or nearest neighbours in PCA
space (issue 9, "Evaluation without waiting").

Measures on MNIST, in one process: the MLP of ``generator.classifier`` (fit wall
and CPU time, test accuracy) and a k-nearest-neighbour vote in the space of the
first ``--components`` principal components (PCA time, time to classify the
10,000 test images, test accuracy for several k). Both are brute force in numpy, so
the figures compare like with like on this machine; run it on a quiet machine for
absolute times.

Usage::

    .venv/bin/python bench/evaluation_classifier.py [--data-dir data]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.classifier import fit_classifier
from generator.datasets import load_dataset
from generator.pca import PCA

NEIGHBOURS = (1, 3, 5, 10)
_CHUNK = 1000
T = TypeVar("T")


def _timed(work: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--components", type=int, default=40)
    arguments = parser.parse_args(argv)
    dataset = load_dataset("mnist", data_dir=arguments.data_dir)

    classifier, wall, cpu = _timed(lambda: fit_classifier(dataset))
    print(
        f"MLP: test accuracy {classifier.test_accuracy_:.4f}; network fit "
        f"{classifier.fit_seconds_:.1f} s; with the accuracy and the novelty "
        f"reference {wall:.1f} s wall, {cpu:.1f} s CPU"
    )

    train, test = dataset.features("train"), dataset.features("test")
    pca, wall, cpu = _timed(lambda: PCA(n_components=arguments.components).fit(train))
    print(f"PCA({arguments.components}) of the training set: {wall:.1f} s wall")
    projected_train = pca.transform(train).astype(np.float32)
    projected_test = pca.transform(test).astype(np.float32)
    norms = np.einsum("ij,ij->i", projected_train, projected_train)
    k_max = max(NEIGHBOURS)

    def neighbours() -> np.ndarray:
        found = np.empty((len(projected_test), k_max), dtype=np.int64)
        for start in range(0, len(projected_test), _CHUNK):
            block = projected_test[start : start + _CHUNK]
            distances = norms[np.newaxis] - 2.0 * block @ projected_train.T
            nearest = np.argpartition(distances, k_max, axis=1)[:, :k_max]
            order = np.argsort(np.take_along_axis(distances, nearest, 1), axis=1)
            found[start : start + _CHUNK] = np.take_along_axis(nearest, order, 1)
        return found

    found, wall, cpu = _timed(neighbours)
    print(f"nearest neighbours of the 10,000 test images: {wall:.1f} s wall")
    for k in NEIGHBOURS:
        votes = np.stack(
            [
                (dataset.labels_train[found[:, :k]] == label).sum(axis=1)
                for label in range(10)
            ],
            axis=1,
        )
        accuracy = float(np.mean(votes.argmax(axis=1) == dataset.labels_test))
        print(f"kNN k={k}: test accuracy {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
