"""Training settings: the presets and the one validation every front end uses.

The command line, the REST API and the browser form all turn user input into a
`TrainingSettings` through `validate_settings`, so a value accepted (or refused,
with the same message) in one place is accepted (or refused) everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from generator.datasets import DATASET_INFO, DATASET_NAMES
from generator.kernel_sums import KERNELS

__all__ = [
    "BANDWIDTH_RULES",
    "DATASET_SIZES",
    "DEFAULT_PRESET",
    "MAX_CV_FOLDS",
    "MAX_GRID_NUM",
    "MAX_SEED",
    "PRESETS",
    "DatasetSize",
    "SettingsError",
    "TrainingSettings",
    "validate_settings",
]

BANDWIDTH_RULES = ("cv", "scott", "silverman")
MIN_CV_FOLDS = 2
MAX_CV_FOLDS = 10
MAX_GRID_NUM = 50
MAX_SEED = 2**32 - 1
DEFAULT_PRESET = "notebook"


@dataclass(frozen=True)
class DatasetSize:
    """What validation needs to know about a data set, without loading it.

    Attributes
    ----------
    n_train, n_test : int
        Number of training and test images.
    image_shape : tuple of int
        ``(height, width)`` of every image.
    n_classes : int
        Number of labels.
    smallest_class_train : int
        Training images in the rarest class; bounds the per-class sample sizes of
        a class-conditional model.
    """

    n_train: int
    n_test: int
    image_shape: tuple[int, int]
    n_classes: int
    smallest_class_train: int

    @property
    def n_features(self) -> int:
        """Pixels per image."""
        return self.image_shape[0] * self.image_shape[1]


# Training images of the rarest class; a test loads `digits` to check its entry.
# MNIST's rarest training digit is 5; Fashion-MNIST is balanced.
_SMALLEST_CLASS_TRAIN = {"mnist": 5421, "fashion-mnist": 6000, "digits": 139}

DATASET_SIZES: dict[str, DatasetSize] = {
    name: DatasetSize(
        n_train=info.n_train,
        n_test=info.n_test,
        image_shape=info.image_shape,
        n_classes=10,
        smallest_class_train=_SMALLEST_CLASS_TRAIN[name],
    )
    for name, info in DATASET_INFO.items()
}


class SettingsError(ValueError):
    """A setting has a wrong type or value.

    Parameters
    ----------
    field : str
        The offending setting (a `TrainingSettings` field name, an unknown key,
        or ``"preset"``).
    message : str
        A sentence fit to show a user.

    Examples
    --------
    >>> error = SettingsError("cv_folds", "cv_folds must be an integer from 2 to 10")
    >>> error.field, str(error)
    ('cv_folds', 'cv_folds must be an integer from 2 to 10')
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TrainingSettings:
    """Everything needed to train a model, validated on construction.

    Parameters
    ----------
    dataset : str
        One of ``generator.datasets.DATASET_NAMES``.
    n_components : int or float
        PCA components (an int), or a fraction in (0, 1) of the variance to keep.
    whiten : bool
        Whiten the PCA projections.
    kernel : str
        One of ``generator.kde.KERNELS``.
    bandwidth : float or str
        A positive number, ``"scott"``, ``"silverman"``, or ``"cv"`` (choose from
        ``bandwidth_grid`` by cross-validated held-out log-likelihood).
    bandwidth_grid : tuple of (float, float, int)
        ``(start, stop, num)``: ``num`` values spaced logarithmically from
        ``start`` to ``stop`` inclusive.
    cv_folds : int
        Folds of the bandwidth search.
    n_train : int
        Training images used (a seeded random subset when fewer than available).
    class_conditional : bool
        One density per label, so a given digit can be requested.
    seed : int
        Seeds the subset, the folds and the evaluation.

    Examples
    --------
    >>> settings = TrainingSettings(n_components=20)
    >>> settings.to_dict()["bandwidth_grid"]
    {'start': 0.1, 'stop': 10.0, 'num': 20}
    >>> TrainingSettings.from_dict(settings.to_dict()) == settings
    True
    """

    dataset: str = "mnist"
    n_components: int | float = 50
    whiten: bool = False
    kernel: str = "gaussian"
    bandwidth: float | str = "cv"
    bandwidth_grid: tuple[float, float, int] = (0.1, 10.0, 20)
    cv_folds: int = 5
    n_train: int = 10000
    class_conditional: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        normalised = _check_all(self.to_dict())
        for name, value in normalised.items():
            # Frozen: normalising (1 -> 1.0, lists -> tuples) must bypass it.
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-serialisable dict.

        Returns
        -------
        dict
            One entry per field; ``bandwidth_grid`` becomes
            ``{"start": ..., "stop": ..., "num": ...}``.
        """
        data = {field.name: getattr(self, field.name) for field in _FIELDS}
        grid = self.bandwidth_grid
        if isinstance(grid, Mapping):
            data["bandwidth_grid"] = dict(grid)
        elif isinstance(grid, list | tuple) and len(grid) == 3:
            data["bandwidth_grid"] = {"start": grid[0], "stop": grid[1], "num": grid[2]}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingSettings:
        """Build settings from a dict such as `to_dict` returns.

        Missing fields take the ``notebook`` preset's values; everything is
        checked by `validate_settings`.
        """
        return validate_settings(data)


_FIELDS = dataclasses.fields(TrainingSettings)
_FIELD_NAMES = tuple(field.name for field in _FIELDS)
_GRID_KEYS = ("start", "stop", "num")


def validate_settings(
    data: Mapping[str, Any], *, preset: str | None = None
) -> TrainingSettings:
    """Check user-supplied settings and fill the rest from a preset.

    Parameters
    ----------
    data : Mapping
        Any subset of the `TrainingSettings` fields, with JSON types (numbers are
        not parsed from strings). ``bandwidth_grid`` may be a mapping with any of
        ``start``, ``stop``, ``num`` (missing ones come from the preset) or a
        sequence ``[start, stop, num]``.
    preset : str, optional
        Name in `PRESETS` supplying the fields not given; default ``"notebook"``.

    Returns
    -------
    TrainingSettings

    Raises
    ------
    SettingsError
        For an unknown preset or key, or a value of the wrong type or out of
        bounds. ``field`` names the setting to correct.

    Examples
    --------
    >>> validate_settings({"n_components": 0.9}, preset="preview").n_components
    0.9
    >>> validate_settings({"cv_folds": 1})
    Traceback (most recent call last):
    ...
    generator.settings.SettingsError: cv_folds must be an integer from 2 to 10
    """
    preset_name = DEFAULT_PRESET if preset is None else preset
    if not isinstance(preset_name, str) or preset_name not in PRESETS:
        raise SettingsError(
            "preset",
            f"unknown preset {preset_name!r}; choose one of {_choices(PRESETS)}",
        )
    if not isinstance(data, Mapping):
        raise SettingsError("settings", "settings must be a mapping of names to values")
    for key in data:
        if key not in _FIELD_NAMES:
            raise SettingsError(
                str(key),
                f"unknown setting {key!r}; valid settings are {_choices(_FIELD_NAMES)}",
            )
    merged = PRESETS[preset_name].to_dict()
    for key, value in data.items():
        if key == "bandwidth_grid" and isinstance(value, Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return TrainingSettings(**_check_all(merged))


def _check_all(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a complete set of fields, returning normalised Python values."""
    dataset = values["dataset"]
    if not isinstance(dataset, str) or dataset not in DATASET_NAMES:
        raise SettingsError(
            "dataset", f"dataset must be one of {_choices(DATASET_NAMES)}"
        )
    size = DATASET_SIZES[dataset]

    kernel = values["kernel"]
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise SettingsError("kernel", f"kernel must be one of {_choices(KERNELS)}")

    bandwidth = values["bandwidth"]
    bandwidth_message = (
        f"bandwidth must be a positive number or one of {_choices(BANDWIDTH_RULES)}"
    )
    if isinstance(bandwidth, str):
        if bandwidth not in BANDWIDTH_RULES:
            raise SettingsError("bandwidth", bandwidth_message)
    else:
        number = _real(bandwidth)
        if number is None or number <= 0.0:
            raise SettingsError("bandwidth", bandwidth_message)
        bandwidth = number

    grid = _check_grid(values["bandwidth_grid"])

    cv_folds = _integer(values["cv_folds"], MIN_CV_FOLDS, MAX_CV_FOLDS)
    if cv_folds is None:
        raise SettingsError(
            "cv_folds",
            f"cv_folds must be an integer from {MIN_CV_FOLDS} to {MAX_CV_FOLDS}",
        )

    n_train = _integer(values["n_train"], 2, size.n_train)
    if n_train is None:
        raise SettingsError(
            "n_train",
            f"n_train must be an integer from 2 to {size.n_train} "
            f"(the {dataset} training set)",
        )

    n_components = values["n_components"]
    components_message = (
        f"n_components must be an integer from 1 to {size.n_features} "
        "or a fraction in (0, 1)"
    )
    count = _integer(n_components, 1, size.n_features)
    if count is not None:
        n_components = count
        if count > n_train:
            raise SettingsError(
                "n_components",
                f"n_components ({count}) cannot exceed n_train ({n_train})",
            )
    else:
        fraction = _real(n_components)
        if fraction is None or isinstance(n_components, numbers.Integral):
            raise SettingsError("n_components", components_message)
        if not 0.0 < fraction < 1.0:
            raise SettingsError("n_components", components_message)
        n_components = fraction

    whiten = _boolean("whiten", values["whiten"])
    class_conditional = _boolean("class_conditional", values["class_conditional"])

    seed = _integer(values["seed"], 0, MAX_SEED)
    if seed is None:
        raise SettingsError("seed", f"seed must be an integer from 0 to {MAX_SEED}")

    if bandwidth == "cv" and n_train < cv_folds:
        raise SettingsError(
            "n_train",
            f"n_train ({n_train}) must be at least cv_folds ({cv_folds}) "
            "for the bandwidth search",
        )
    if class_conditional:
        # Training subsets are stratified, so the rarest class gets at least
        # floor(n_train * smallest / total) images; the per-class search needs
        # two (one held out, one to score it against).
        needed = 2 if bandwidth == "cv" else 1
        minimum = math.ceil(needed * size.n_train / size.smallest_class_train)
        if n_train * size.smallest_class_train // size.n_train < needed:
            raise SettingsError(
                "n_train",
                f"n_train must be at least {min(minimum, size.n_train)} for a "
                f"class-conditional model of {dataset}, so that every class has "
                f"{needed} training images",
            )

    return {
        "dataset": dataset,
        "n_components": n_components,
        "whiten": whiten,
        "kernel": kernel,
        "bandwidth": bandwidth,
        "bandwidth_grid": grid,
        "cv_folds": cv_folds,
        "n_train": n_train,
        "class_conditional": class_conditional,
        "seed": seed,
    }


def _check_grid(value: object) -> tuple[float, float, int]:
    if isinstance(value, Mapping):
        unknown = sorted(str(key) for key in value if key not in _GRID_KEYS)
        if unknown:
            raise SettingsError(
                "bandwidth_grid",
                f"bandwidth_grid has unknown key {unknown[0]!r}; "
                "use start, stop and num",
            )
        missing = [key for key in _GRID_KEYS if key not in value]
        if missing:
            raise SettingsError(
                "bandwidth_grid", f"bandwidth_grid needs {_choices(missing)}"
            )
        start, stop, num = (value[key] for key in _GRID_KEYS)
    elif isinstance(value, list | tuple) and len(value) == 3:
        start, stop, num = value
    else:
        raise SettingsError(
            "bandwidth_grid",
            "bandwidth_grid must be {start, stop, num} or [start, stop, num]",
        )
    start_value = _real(start)
    if start_value is None or start_value <= 0.0:
        raise SettingsError(
            "bandwidth_grid", "bandwidth_grid start must be a positive number"
        )
    stop_value = _real(stop)
    if stop_value is None or stop_value < start_value:
        raise SettingsError(
            "bandwidth_grid",
            "bandwidth_grid stop must be a number at least as large as start",
        )
    num_value = _integer(num, 1, MAX_GRID_NUM)
    if num_value is None:
        raise SettingsError(
            "bandwidth_grid",
            f"bandwidth_grid num must be an integer from 1 to {MAX_GRID_NUM}",
        )
    return (start_value, stop_value, num_value)


def _integer(value: object, low: int, high: int) -> int | None:
    """``value`` as an int when it is an integer (not a bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    number = int(value)
    return number if low <= number <= high else None


def _real(value: object) -> float | None:
    """``value`` as a float when it is a finite real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float, so not finite either
        return None
    return number if math.isfinite(number) else None


def _boolean(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(field, f"{field} must be true or false")
    return value


def _choices(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


PRESETS: dict[str, TrainingSettings] = {
    # The original notebook: PCA(50) + a 5-fold search of 20 bandwidths on 10,000
    # MNIST images.
    "notebook": TrainingSettings(),
    # The winner of bench/sharp_search.py (README, "Models and presets"): the
    # highest classifier confidence x class balance among settings whose samples
    # are at least as far from the training set as real test images are.
    "sharp": TrainingSettings(
        dataset="mnist",
        n_components=20,
        kernel="exponential",
        bandwidth=0.107,
    ),
    # Small enough to train and sample in a few seconds, for demos and smoke tests.
    "preview": TrainingSettings(
        dataset="digits",
        n_components=20,
        bandwidth_grid=(0.1, 1.0, 10),
        cv_folds=3,
        n_train=DATASET_SIZES["digits"].n_train,
        class_conditional=True,
    ),
}
