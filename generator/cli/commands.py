"""The commands of ``python -m generator``: fetch, train, sample and evaluate.

Each takes the parsed arguments and returns the exit status; a user error raises
`CommandError`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from generator.files import write_atomically

__all__ = ["COMMANDS", "CommandError", "ProgressBar"]

# Sampling holds float64 pixels: 100,000 MNIST images are ~630 MB of them.
_MAX_SAMPLES = 100_000


class CommandError(Exception):
    """A user error, shown as one line on stderr."""


class ProgressBar:
    """A progress bar on stderr fed by ``train_model``'s callback.

    On a terminal it redraws one line; elsewhere (logs, pipes) it prints a line
    only when the phase changes, so captured output stays short.
    """

    def __init__(self, stream: IO[str], *, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._interactive = stream.isatty()
        self._phase: str | None = None
        self._started = time.perf_counter()

    def __call__(self, phase: str, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._interactive:
            filled = round(fraction * self._width)
            bar = "#" * filled + "-" * (self._width - filled)
            elapsed = time.perf_counter() - self._started
            self._stream.write(
                f"\rtraining [{bar}] {fraction:4.0%} {phase:<10} {elapsed:6.1f}s"
            )
            self._stream.flush()
        elif phase != self._phase:
            self._stream.write(f"training: {phase} ({fraction:.0%})\n")
            self._stream.flush()
        self._phase = phase

    def close(self) -> None:
        if self._interactive and self._phase is not None:
            self._stream.write("\n")
            self._stream.flush()


def _check_writable(path: Path) -> None:
    """Fail before the work, not after it, when the output cannot be written."""
    directory = path.parent if str(path.parent) else Path()
    if path.exists() and path.is_dir():
        raise CommandError(f"cannot write {path}: it is a directory")
    if not directory.is_dir():
        raise CommandError(f"cannot write {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write {path}: permission denied")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"cannot write {path}: permission denied")


def _load_model(path: Path) -> tuple[Any, dict[str, Any]]:
    from generator.io import load_model

    if not path.exists():
        raise CommandError(f"model file {path} does not exist")
    if path.is_dir():
        raise CommandError(f"model file {path} is a directory")
    model, metadata = load_model(path)
    return model, dict(metadata)


def _is_class_conditional(model: Any) -> bool:
    return bool(getattr(model, "class_conditional", False))


def _model_classes(model: Any) -> list[int]:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return []
    return [int(label) for label in np.asarray(classes).ravel().tolist()]


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #


def _run_fetch(arguments: argparse.Namespace) -> int:
    from generator.datasets import default_data_dir, load_dataset

    started = time.perf_counter()
    dataset = load_dataset(arguments.dataset, data_dir=arguments.data_dir)
    height, width = dataset.image_shape
    directory = arguments.data_dir or default_data_dir()
    location = "bundled with scikit-learn" if dataset.name == "digits" else directory
    print(
        f"{dataset.name}: {dataset.images_train.shape[0]} train and "
        f"{dataset.images_test.shape[0]} test images of {height}x{width}, "
        f"sha256 {dataset.digest[:16]}..., {location} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def _settings_from_arguments(arguments: argparse.Namespace) -> Any:
    from generator.settings import validate_settings

    given: dict[str, Any] = {}
    pairs = (
        ("dataset", arguments.dataset),
        ("n_components", arguments.components),
        ("whiten", arguments.whiten),
        ("kernel", arguments.kernel),
        ("bandwidth", arguments.bandwidth),
        ("cv_folds", arguments.folds),
        ("n_train", arguments.n_train),
        ("class_conditional", arguments.class_conditional),
        (
            "pca_scope",
            None
            if arguments.pca_scope is None
            else arguments.pca_scope.replace("-", "_"),
        ),
        ("temperature", arguments.temperature),
        ("match_intensities", arguments.match_intensities),
        ("seed", arguments.seed),
    )
    for name, value in pairs:
        if value is not None:
            given[name] = value
    if arguments.grid is not None:
        given["bandwidth_grid"] = list(arguments.grid)
    return validate_settings(given, preset=arguments.preset)


def _run_train(arguments: argparse.Namespace) -> int:
    from generator import __version__
    from generator.io import save_model
    from generator.search import widened_grid
    from generator.training import model_metadata, train_model

    settings = _settings_from_arguments(arguments)
    output: Path = arguments.out
    _check_writable(output)
    progress = None if arguments.quiet else ProgressBar(sys.stderr)
    try:
        result = train_model(settings, data_dir=arguments.data_dir, callback=progress)
    finally:
        if progress is not None:
            progress.close()
    # save_model adds format_version and library_versions, and writes a path
    # atomically.
    save_model(
        result.model,
        output,
        metadata=model_metadata(result, settings, code_version=__version__),
    )
    metrics = result.metrics
    bandwidth = metrics["bandwidth"]
    log_likelihood = metrics["test_log_likelihood"]
    outside = metrics["test_outside_support"]
    if log_likelihood is None:
        scored = (
            f"-inf: {outside} of {metrics['n_test']} test images lie outside every "
            f"kernel's support"
        )
    else:
        scored = _number(log_likelihood)
    print(
        f"wrote {output}: {settings.dataset}, {_components(metrics)}, "
        f"{settings.kernel} kernel, bandwidth {_number(bandwidth)}, "
        f"test log-likelihood {scored}, "
        f"{_number(sum(metrics['seconds'].values()))} s"
    )
    edge = metrics["bandwidth_grid_edge"]
    if edge is not None:
        start, stop, num = widened_grid(settings.bandwidth_grid, edge)
        side = "smallest" if edge == "lower" else "largest"
        beyond = "smaller" if edge == "lower" else "larger"
        print(
            f"note: bandwidth {_number(bandwidth)} is the {side} value of the search "
            f"grid, so the best one may be {beyond}; search a wider grid with "
            f"--grid {start:g} {stop:g} {num}"
        )
    return 0


def _components(metrics: dict[str, Any]) -> str:
    """The PCA of a trained model's metrics in words: per digit, the range of the
    digits' components and of the variance each keeps."""
    per_class = metrics["per_class"]
    if per_class is None:
        return (
            f"{metrics['n_components']} components "
            f"({_percent(metrics['explained_variance'])} of the variance)"
        )
    counts = [row["n_components"] for row in per_class]
    kept = [row["explained_variance"] for row in per_class]
    return (
        f"one PCA per digit: {min(counts)} to {max(counts)} components "
        f"({_percent(min(kept))} to {_percent(max(kept))} of each digit's variance)"
    )


def _percent(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float | int) else "?"


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float | int) else "?"


def _run_sample(arguments: argparse.Namespace) -> int:
    output: Path = arguments.out
    suffix = output.suffix.lower()
    if suffix not in (".npz", ".png"):
        raise CommandError(
            f"cannot write {output}: the output must end in .npz or .png"
        )
    if arguments.n > _MAX_SAMPLES:
        raise CommandError(f"-n must be at most {_MAX_SAMPLES}, got {arguments.n}")
    _check_writable(output)
    model, _ = _load_model(arguments.model)
    digit = arguments.digit
    if digit is not None:
        if not _is_class_conditional(model):
            raise CommandError(
                "--digit needs a class-conditional model "
                "(train with --class-conditional)"
            )
        classes = _model_classes(model)
        if digit not in classes:
            raise CommandError(
                f"--digit must be one of {', '.join(map(str, classes))}, got {digit}"
            )
    started = time.perf_counter()
    images = model.sample(
        arguments.n,
        digit=digit,
        random_state=arguments.seed,
        temperature=arguments.temperature,
    )
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if suffix == ".npz":
        write_atomically(
            output,
            lambda stream: np.savez_compressed(
                stream, allow_pickle=False, images=images
            ),
        )
    else:
        from generator.render import grid_to_png

        png = grid_to_png(
            images,
            columns=arguments.columns,
            scale=arguments.scale,
        )

        def write_png(stream: IO[bytes]) -> None:
            stream.write(png)

        write_atomically(output, write_png)
    print(
        f"wrote {output}: {images.shape[0]} images of "
        f"{images.shape[1]}x{images.shape[2]} "
        f"({time.perf_counter() - started:.2f} s)"
    )
    return 0


def _run_evaluate(arguments: argparse.Namespace) -> int:
    from generator.classifier import load_classifier
    from generator.datasets import load_dataset
    from generator.evaluate import evaluate_model

    model, metadata = _load_model(arguments.model)
    dataset_info = metadata.get("dataset")
    if not isinstance(dataset_info, dict) or not isinstance(
        dataset_info.get("name"), str
    ):
        raise CommandError(f"model file {arguments.model} does not name its data set")
    dataset = load_dataset(dataset_info["name"], data_dir=arguments.data_dir)
    if dataset_info.get("digest") not in (None, dataset.digest):
        print(
            f"warning: {arguments.model} was trained on another version of "
            f"{dataset.name} (digest {str(dataset_info['digest'])[:16]}...)",
            file=sys.stderr,
        )
    if tuple(getattr(model, "image_shape_", dataset.image_shape)) != tuple(
        dataset.image_shape
    ):
        raise CommandError(
            f"model images are {getattr(model, 'image_shape_', '?')}, "
            f"{dataset.name} images are {dataset.image_shape}"
        )
    if arguments.n > _MAX_SAMPLES:
        raise CommandError(f"-n must be at most {_MAX_SAMPLES}, got {arguments.n}")
    classifier = load_classifier(dataset, data_dir=arguments.data_dir)
    started = time.perf_counter()
    metrics = evaluate_model(
        model,
        dataset,
        n_samples=arguments.n,
        random_state=arguments.seed,
        classifier=classifier,
        temperature=arguments.temperature,
    )
    report = {
        "model": str(arguments.model),
        "dataset": dataset.name,
        "n_samples": arguments.n,
        "seed": arguments.seed,
        **metrics,
        "seconds": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(report, indent=2))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fetch": _run_fetch,
    "train": _run_train,
    "sample": _run_sample,
    "evaluate": _run_evaluate,
}
