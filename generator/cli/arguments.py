"""The argument parser of ``python -m generator`` and its argument types."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

__all__ = [
    "EXIT_USAGE",
    "PROGRAM",
    "SETTING_FLAGS",
    "build_parser",
    "one_line",
]

EXIT_USAGE = 2
PROGRAM = "python -m generator"

# Flag for each TrainingSettings field, so a SettingsError names what to change.
SETTING_FLAGS = {
    "dataset": "--dataset",
    "n_components": "--components",
    "whiten": "--whiten",
    "kernel": "--kernel",
    "bandwidth": "--bandwidth",
    "bandwidth_grid": "--grid",
    "cv_folds": "--folds",
    "n_train": "--n-train",
    "class_conditional": "--class-conditional",
    "pca_scope": "--pca-scope",
    "temperature": "--temperature",
    "match_intensities": "--match-intensities",
    "seed": "--seed",
    "preset": "--preset",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (argparse prints usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: str) -> str:
    """``text`` on one line: its non-blank lines, stripped, joined by spaces."""
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
    train.add_argument(
        "--pca-scope",
        choices=("shared", "per-class"),
        help="one PCA for all images (shared), or one PCA, and one bandwidth, "
        "per class (per-class; implies --class-conditional)",
    )
    train.add_argument(
        "--temperature",
        type=_int_or_float,
        help="the model's default sampling temperature (bandwidth scale when "
        "sampling; default 1)",
    )
    train.add_argument(
        "--match-intensities",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="render samples through an intensity curve fitted at training time, "
        "which gives the training images' PCA reconstructions their pixel "
        "distribution",
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
        help="bandwidth multiplier at sampling (below 1: sharper, less varied; "
        "default: the model's own temperature)",
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
    evaluate.add_argument(
        "--temperature",
        type=_positive_float,
        help="bandwidth multiplier at sampling (default: the model's own)",
    )
    evaluate.add_argument("--data-dir", type=Path, help="data set cache directory")
    return parser
