"""Command line: ``python -m generator fetch | train | sample | evaluate``.

Every failure a user can cause (a bad flag, an out-of-bounds setting, a missing
or damaged model file, an unwritable output) ends with one line on stderr and a
non-zero exit status, never a traceback.

Examples
--------
::

    python -m generator fetch mnist
    python -m generator train --preset sharp --out model.npz
    python -m generator train --dataset mnist --components 50 --kernel gaussian \\
        --bandwidth cv --out model.npz
    python -m generator sample model.npz -n 10000 --seed 0 --digit 7 --out samples.npz
    python -m generator sample model.npz -n 64 --out grid.png --scale 3
    python -m generator evaluate model.npz -n 2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from generator.files import write_atomically

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "CommandError", "build_parser", "main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
PROGRAM = "python -m generator"

# Flag for each TrainingSettings field, so a SettingsError names what to change.
_SETTING_FLAGS = {
    "dataset": "--dataset",
    "n_components": "--components",
    "whiten": "--whiten",
    "kernel": "--kernel",
    "bandwidth": "--bandwidth",
    "bandwidth_grid": "--grid",
    "cv_folds": "--folds",
    "n_train": "--n-train",
    "class_conditional": "--class-conditional",
    "seed": "--seed",
    "preset": "--preset",
}
# Sampling holds float64 pixels: 100,000 MNIST images are ~630 MB of them.
_MAX_SAMPLES = 100_000


class CommandError(Exception):
    """A user error, shown as one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (argparse prints usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _components(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or a fraction in (0, 1), got {text!r}"
        ) from None
    return value


def _bandwidth(text: str) -> float | str:
    if text in ("cv", "scott", "silverman"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, cv, scott or silverman, got {text!r}"
        ) from None


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {value}"
            )
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _int_or_float(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m generator``.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> build_parser().parse_args(["sample", "m.npz", "-n", "4", "--out", "a.npz"]).n
    4
    """
    from generator.datasets import DATASET_NAMES
    from generator.kernel_sums import KERNELS
    from generator.settings import PRESETS

    parser = _Parser(
        prog=PROGRAM,
        description="Train and sample PCA + kernel density models of digit images.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    fetch = commands.add_parser(
        "fetch", help="download, verify and cache a data set", prog=f"{PROGRAM} fetch"
    )
    fetch.add_argument("dataset", choices=DATASET_NAMES)
    fetch.add_argument("--data-dir", type=Path, help="cache directory")

    train = commands.add_parser(
        "train", help="train a model and save it as .npz", prog=f"{PROGRAM} train"
    )
    train.add_argument(
        "--preset",
        default="notebook",
        help=f"settings to start from: {', '.join(PRESETS)} (default notebook)",
    )
    # --dataset and --kernel are free strings: validate_settings is the one place
    # that accepts or refuses a setting, with the same message as the API.
    train.add_argument("--dataset", help=f"one of {', '.join(DATASET_NAMES)}")
    train.add_argument(
        "--components",
        type=_components,
        metavar="K",
        help="PCA components (integer) or fraction of variance kept (0 < f < 1)",
    )
    train.add_argument(
        "--whiten",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whiten the PCA projections",
    )
    train.add_argument("--kernel", help=f"one of {', '.join(KERNELS)}")
    train.add_argument(
        "--bandwidth",
        type=_bandwidth,
        metavar="H",
        help="a positive number, or cv (cross-validated), scott, silverman",
    )
    train.add_argument(
        "--grid",
        nargs=3,
        type=_int_or_float,
        metavar=("START", "STOP", "NUM"),
        help="bandwidth search grid: NUM values log-spaced from START to STOP",
    )
    train.add_argument("--folds", type=_int_or_float, help="cross-validation folds")
    train.add_argument(
        "--n-train", type=_int_or_float, help="training images (a seeded subset)"
    )
    train.add_argument(
        "--class-conditional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one density per digit, so a digit can be requested",
    )
    train.add_argument("--seed", type=_int_or_float, help="random seed")
    train.add_argument("--data-dir", type=Path, help="data set cache directory")
    train.add_argument(
        "--out", type=Path, required=True, help="model file to write (.npz)"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar on stderr")

    sample = commands.add_parser(
        "sample",
        help="draw images from a model into .npz or a .png grid",
        prog=f"{PROGRAM} sample",
    )
    sample.add_argument("model", type=Path, help="model file (.npz)")
    sample.add_argument(
        "-n", "--n-samples", dest="n", type=_positive_int, default=16, metavar="N"
    )
    sample.add_argument("--seed", type=_non_negative_int, default=0)
    sample.add_argument(
        "--digit", type=int, help="digit to draw (class-conditional models only)"
    )
    sample.add_argument(
        "--temperature",
        type=_positive_float,
        default=1.0,
        help="bandwidth multiplier (below 1: sharper, less varied)",
    )
    sample.add_argument(
        "--out",
        type=Path,
        required=True,
        help="samples.npz (uint8 array 'images', shape (n, h, w)) or grid.png",
    )
    sample.add_argument(
        "--scale", type=_positive_int, default=1, help="PNG upscaling factor"
    )
    sample.add_argument(
        "--columns", type=_positive_int, help="PNG grid columns (default ~sqrt(n))"
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model's samples with the digit classifier (JSON on stdout)",
        prog=f"{PROGRAM} evaluate",
    )
    evaluate.add_argument("model", type=Path, help="model file (.npz)")
    evaluate.add_argument(
        "-n", "--n-samples", dest="n", type=_positive_int, default=1000, metavar="N"
    )
    evaluate.add_argument("--seed", type=_non_negative_int, default=0)
    evaluate.add_argument("--temperature", type=_positive_float, default=1.0)
    evaluate.add_argument("--data-dir", type=Path, help="data set cache directory")
    return parser


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


class _ProgressBar:
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
    from generator.training import model_metadata, train_model

    settings = _settings_from_arguments(arguments)
    output: Path = arguments.out
    _check_writable(output)
    progress = None if arguments.quiet else _ProgressBar(sys.stderr)
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
    bandwidth = metrics.get("bandwidth")
    print(
        f"wrote {output}: {settings.dataset}, {metrics.get('n_components')} "
        f"components ({_percent(metrics.get('explained_variance'))} of the "
        f"variance), {settings.kernel} kernel, bandwidth {_number(bandwidth)}, "
        f"test log-likelihood {_number(metrics.get('test_log_likelihood'))}, "
        f"{_number(sum(metrics.get('seconds', {}).values()))} s"
    )
    return 0


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


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fetch": _run_fetch,
    "train": _run_train,
    "sample": _run_sample,
    "evaluate": _run_evaluate,
}


def _error_message(error: BaseException) -> str:
    from generator.settings import SettingsError

    if isinstance(error, SettingsError):
        return "; ".join(
            f"{_SETTING_FLAGS.get(field, field)}: {_one_line(message)}"
            for field, message in error.errors.items()
        )
    if isinstance(error, OSError) and error.filename is not None:
        reason = error.strerror or type(error).__name__
        return f"{error.filename}: {reason}"
    text = _one_line(str(error))
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; ``None`` means ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 for a failed command, 2 for bad usage.

    Examples
    --------
    >>> main(["sample", "missing.npz", "--out", "x.npz"])
    1
    """
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:
        # --help and usage errors; argparse has already written its message.
        code = exit_request.code
        return code if isinstance(code, int) else EXIT_USAGE if code else 0
    command = _COMMANDS[arguments.command]
    try:
        return command(arguments)
    except KeyboardInterrupt:
        print(f"{PROGRAM} {arguments.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # The command line promises one line and never a traceback.
        print(
            f"{PROGRAM} {arguments.command}: error: {_error_message(error)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
