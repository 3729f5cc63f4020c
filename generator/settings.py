"""Training settings: the presets and the one validation every front end uses.

The command line, the REST API and the browser form all turn user input into a
`TrainingSettings` through `validate_settings`, so a value accepted (or refused,
with the same message) in one place is accepted (or refused) everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
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
    "MAX_TEMPERATURE",
    "MAX_TRAINING_CELLS",
    "MIN_TEMPERATURE",
    "PCA_SCOPES",
    "PRESETS",
    "DatasetSize",
    "Message",
    "SettingsError",
    "TrainingSettings",
    "validate_settings",
]

BANDWIDTH_RULES = ("cv", "scott", "silverman")
#: ``shared``: one PCA for every image; ``per_class``: one PCA per label.
PCA_SCOPES = ("shared", "per_class")
MIN_CV_FOLDS = 2
MAX_CV_FOLDS = 10
MAX_GRID_NUM = 50
MAX_SEED = 2**32 - 1
#: Bounds of the sampling temperature (the bandwidth scale at sampling).
MIN_TEMPERATURE = 0.1
MAX_TEMPERATURE = 3.0
#: The largest n_components x n_train of a training run. It bounds the model file
#: (8 bytes a cell for the KDE's points: 96 MB here) and, with the data set, a
#: run's memory (README, "Limits": about 1 GB measured at this bound).
MAX_TRAINING_CELLS = 12_000_000
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


@dataclass(frozen=True)
class Message:
    """A sentence about settings that names each one through a placeholder.

    Front ends word the settings their own way: the REST API by field name, a
    form by its labels. ``template`` is a `str.format` template whose ``{0}``,
    ``{1}``... stand for the settings in ``names`` (field names, or
    ``"bandwidth_grid.start"`` for a part of the grid).

    Examples
    --------
    >>> message = Message("{0} cannot exceed {1}", ("n_components", "n_train"))
    >>> message.render()
    'n_components cannot exceed n_train'
    >>> message.render({"n_components": "Components", "n_train": "Training images"})
    'Components cannot exceed training images'
    """

    template: str
    names: tuple[str, ...] = ()

    def render(self, wording: Mapping[str, str] | None = None) -> str:
        """The sentence, each setting named by ``wording`` (default: its API name).

        A name other than the first word starts with a lower-case letter, unless
        it is an abbreviation ("PCA components").
        """
        words = []
        for index, name in enumerate(self.names):
            word = (wording or {}).get(name) or _API_WORDS.get(name, name)
            if not self.template.startswith(f"{{{index}}}"):
                word = _lower_first(word)
            words.append(word)
        return self.template.format(*words)


# How the REST API names the parts of the grid in its messages.
_API_WORDS = {
    "bandwidth_grid.start": "bandwidth_grid start",
    "bandwidth_grid.stop": "bandwidth_grid stop",
    "bandwidth_grid.num": "bandwidth_grid num",
}


def _lower_first(word: str) -> str:
    if word[1:2].islower():
        return word[:1].lower() + word[1:]
    return word


class SettingsError(ValueError):
    """Settings with a wrong type or value: every offending one, found in one pass.

    Parameters
    ----------
    errors : Mapping[str, str or Message]
        One sentence fit to show a user per offending setting, keyed by the
        setting (a `TrainingSettings` field name, an unknown key, ``"preset"`` or
        ``"settings"``).

    Attributes
    ----------
    errors : dict of str to str
        The sentences, each setting named by its field name.
    messages : dict of str to Message
        The same sentences, for `worded`.

    Examples
    --------
    >>> error = SettingsError({"cv_folds": "cv_folds must be an integer from 2 to 10"})
    >>> error.errors
    {'cv_folds': 'cv_folds must be an integer from 2 to 10'}
    >>> str(SettingsError({"seed": "seed is wrong", "kernel": "kernel is wrong"}))
    'seed is wrong; kernel is wrong'
    """

    def __init__(self, errors: Mapping[str, str | Message]) -> None:
        if not errors:
            raise ValueError("a SettingsError needs at least one error")
        self.messages: dict[str, Message] = {
            key: message if isinstance(message, Message) else _literal(message)
            for key, message in errors.items()
        }
        self.errors: dict[str, str] = self.worded()
        super().__init__("; ".join(self.errors.values()))

    def worded(self, wording: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every sentence, each setting named by ``wording`` (default: its API name).

        Examples
        --------
        >>> try:
        ...     validate_settings({"cv_folds": 1})
        ... except SettingsError as error:
        ...     error.worded({"cv_folds": "Folds"})
        {'cv_folds': 'Folds must be an integer from 2 to 10'}
        """
        return {key: message.render(wording) for key, message in self.messages.items()}


def _literal(text: str) -> Message:
    """A message naming no setting."""
    return Message(_escape(text))


def _escape(text: str) -> str:
    """``text`` as literal text inside a `Message` template."""
    return text.replace("{", "{{").replace("}", "}}")


class _Invalid(Exception):
    """One setting's value is wrong; the message is fit to show a user."""

    def __init__(self, template: str, *names: str) -> None:
        super().__init__(template)
        self.message = Message(template, names)


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
        One of ``generator.kernel_sums.KERNELS``.
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
    pca_scope : str
        ``"shared"`` (one PCA for all images) or ``"per_class"`` (one PCA, and
        one cross-validated bandwidth, per label; implies ``class_conditional``).
    temperature : float
        The model's default sampling temperature: the scale applied to every
        kernel's bandwidth when sampling (from `MIN_TEMPERATURE` to
        `MAX_TEMPERATURE`).
    match_intensities : bool
        Fit an intensity curve at training time and render every sample
        through it (`generator.intensity`): the pixel distribution of the
        training images' PCA reconstructions is mapped onto theirs.
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
    pca_scope: str = "shared"
    temperature: float = 1.0
    match_intensities: bool = False
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
        A preset value adapts to the data set chosen: ``n_train`` is at most its
        training images. Only values given in ``data`` are refused.

    Returns
    -------
    TrainingSettings

    Raises
    ------
    SettingsError
        For an unknown preset or key, or a value of the wrong type or out of
        bounds; ``errors`` maps every setting to correct to its message.

    Examples
    --------
    >>> validate_settings({"n_components": 0.9}, preset="preview").n_components
    0.9
    >>> validate_settings({"dataset": "digits"}).n_train
    1438
    >>> validate_settings({"cv_folds": 1})
    Traceback (most recent call last):
    ...
    generator.settings.SettingsError: cv_folds must be an integer from 2 to 10
    >>> try:
    ...     validate_settings({"cv_folds": 1, "seed": -1, "kernel": "box"})
    ... except SettingsError as error:
    ...     sorted(error.errors)
    ['cv_folds', 'kernel', 'seed']
    """
    preset_name = DEFAULT_PRESET if preset is None else preset
    errors: dict[str, str | Message] = {}
    known_preset = isinstance(preset_name, str) and preset_name in PRESETS
    if not known_preset:
        errors["preset"] = (
            f"unknown preset {preset_name!r}; choose one of {_choices(PRESETS)}"
        )
    if not isinstance(data, Mapping):
        errors["settings"] = "settings must be a mapping of names to values"
        raise SettingsError(errors)
    for key in data:
        if key not in _FIELD_NAMES:
            errors[str(key)] = (
                f"unknown setting {key!r}; valid settings are {_choices(_FIELD_NAMES)}"
            )
    if not known_preset:
        raise SettingsError(errors)
    merged = PRESETS[preset_name].to_dict()
    for key, value in data.items():
        if key == "bandwidth_grid" and isinstance(value, Mapping):
            merged[key] = {**merged[key], **value}
        elif key in _FIELD_NAMES:
            merged[key] = value
    if "n_train" not in data:
        merged["n_train"] = _adapted_n_train(merged["n_train"], merged["dataset"])
    if merged["pca_scope"] == "per_class" and "class_conditional" not in data:
        # One PCA per class needs one density per class.
        merged["class_conditional"] = True
    try:
        normalised = _check_all(merged)
    except SettingsError as error:
        raise SettingsError({**errors, **error.messages}) from None
    if errors:
        raise SettingsError(errors)
    return TrainingSettings(**normalised)


def _adapted_n_train(n_train: int, dataset: object) -> int:
    """A preset's ``n_train`` for the data set chosen: at most its training images."""
    size = DATASET_SIZES.get(dataset) if isinstance(dataset, str) else None
    return n_train if size is None else min(n_train, size.n_train)


def _check_all(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a complete set of fields, returning normalised Python values.

    Every field is checked; a check that depends on other fields (a bound set by
    the data set, n_components against n_train...) runs once those are valid.
    Raises `SettingsError` naming every bad field.
    """
    errors: dict[str, Message] = {}
    checked: dict[str, Any] = {}

    def check(field: str, checker: Callable[[Any], Any]) -> None:
        try:
            checked[field] = checker(values[field])
        except _Invalid as invalid:
            errors.setdefault(field, invalid.message)

    check("dataset", _check_dataset)
    check("kernel", _check_kernel)
    check("bandwidth", _check_bandwidth)
    check("bandwidth_grid", _check_grid)
    check("cv_folds", _check_cv_folds)
    if "dataset" in checked:
        dataset = checked["dataset"]
        size = DATASET_SIZES[dataset]
        check("n_train", lambda value: _check_n_train(value, dataset, size))
        check("n_components", lambda value: _check_n_components(value, size))
    check("whiten", lambda value: _boolean("whiten", value))
    check("class_conditional", lambda value: _boolean("class_conditional", value))
    check("pca_scope", _check_pca_scope)
    check("temperature", _check_temperature)
    check("match_intensities", lambda value: _boolean("match_intensities", value))
    check("seed", _check_seed)
    per_class = checked.get("pca_scope") == "per_class"
    if per_class and "dataset" in checked:
        if DATASET_SIZES[checked["dataset"]].n_classes < 2:
            errors.setdefault(
                "pca_scope",
                Message(
                    f'{{0}} "per_class" needs a labelled data set; '
                    f"{checked['dataset']} has no labels",
                    ("pca_scope",),
                ),
            )
        if checked.get("class_conditional") is False:
            errors.setdefault(
                "class_conditional",
                Message(
                    '{0} must be true with {1} "per_class" (one density per class)',
                    ("class_conditional", "pca_scope"),
                ),
            )

    n_train = checked.get("n_train")
    n_components = checked.get("n_components")
    bandwidth = checked.get("bandwidth")
    cv_folds = checked.get("cv_folds")
    if n_train is not None:
        n_features = DATASET_SIZES[checked["dataset"]].n_features
        # A fraction of variance keeps an unknown number of components until the
        # PCA has run: count it as every pixel.
        components = n_components if isinstance(n_components, int) else n_features
        # A per-class fraction is checked once each class's PCA has run
        # (generator.training): counting it as every pixel would refuse the
        # sharp preset, whose classes keep 9 to 32 components each.
        fraction_per_class = per_class and not isinstance(n_components, int)
        if (
            n_components is not None
            and not fraction_per_class
            and components * n_train > MAX_TRAINING_CELLS
        ):
            errors.setdefault(
                "n_train",
                Message(
                    f"{{0}} x {{1}} must be at most {MAX_TRAINING_CELLS:,}, "
                    f"got {components} x {n_train:,}"
                    + (
                        ""
                        if isinstance(n_components, int)
                        else " (a fraction of variance counts as all "
                        f"{n_features} pixels)"
                    )
                    + f": use at most {MAX_TRAINING_CELLS // components:,} images",
                    ("n_components", "n_train"),
                ),
            )
        if isinstance(n_components, int) and n_components > n_train:
            errors.setdefault(
                "n_components",
                Message(
                    f"{{0}} ({n_components}) cannot exceed {{1}} ({n_train})",
                    ("n_components", "n_train"),
                ),
            )
        if bandwidth == "cv" and cv_folds is not None and n_train < cv_folds:
            errors.setdefault(
                "n_train",
                Message(
                    f"{{0}} ({n_train}) must be at least {{1}} ({cv_folds}) "
                    "for the bandwidth search",
                    ("n_train", "cv_folds"),
                ),
            )
        if per_class and isinstance(n_components, int):
            size = DATASET_SIZES[checked["dataset"]]
            smallest = n_train * size.smallest_class_train // size.n_train
            if n_components > smallest:
                errors.setdefault(
                    "n_components",
                    Message(
                        f"{{0}} ({n_components}) cannot exceed the training "
                        f"images of the smallest class ({smallest} of {{1}} "
                        f'{n_train:,}) with {{2}} "per_class"',
                        ("n_components", "n_train", "pca_scope"),
                    ),
                )
        if bandwidth is not None and checked.get("class_conditional"):
            dataset = checked["dataset"]
            size = DATASET_SIZES[dataset]
            # Training subsets are stratified, so the rarest class gets at least
            # floor(n_train * smallest / total) images; the per-class search needs
            # two (one held out, one to score it against), or with per-class PCAs
            # one per fold of each class's own search.
            needed = 2 if bandwidth == "cv" else 1
            if per_class and bandwidth == "cv" and cv_folds is not None:
                needed = max(needed, cv_folds)
            minimum = math.ceil(needed * size.n_train / size.smallest_class_train)
            if n_train * size.smallest_class_train // size.n_train < needed:
                errors.setdefault(
                    "n_train",
                    Message(
                        f"{{0}} must be at least {min(minimum, size.n_train)} for "
                        f"a class-conditional model of {dataset}, so that every "
                        f"class has {needed} training images",
                        ("n_train",),
                    ),
                )
    if errors:
        raise SettingsError(errors)
    return {name: checked[name] for name in _FIELD_NAMES}


def _check_dataset(value: object) -> str:
    if not isinstance(value, str) or value not in DATASET_NAMES:
        raise _Invalid(f"{{0}} must be one of {_choices(DATASET_NAMES)}", "dataset")
    return value


def _check_kernel(value: object) -> str:
    if not isinstance(value, str) or value not in KERNELS:
        raise _Invalid(f"{{0}} must be one of {_choices(KERNELS)}", "kernel")
    return value


def _check_bandwidth(value: object) -> float | str:
    message = f"{{0}} must be a positive number or one of {_choices(BANDWIDTH_RULES)}"
    if isinstance(value, str):
        if value not in BANDWIDTH_RULES:
            raise _Invalid(message, "bandwidth")
        return value
    number = _real(value)
    if number is None or number <= 0.0:
        raise _Invalid(message, "bandwidth")
    return number


def _check_cv_folds(value: object) -> int:
    cv_folds = _integer(value, MIN_CV_FOLDS, MAX_CV_FOLDS)
    if cv_folds is None:
        raise _Invalid(
            f"{{0}} must be an integer from {MIN_CV_FOLDS} to {MAX_CV_FOLDS}",
            "cv_folds",
        )
    return cv_folds


def _check_n_train(value: object, dataset: str, size: DatasetSize) -> int:
    n_train = _integer(value, 2, size.n_train)
    if n_train is None:
        raise _Invalid(
            f"{{0}} must be an integer from 2 to {size.n_train} "
            f"(the {dataset} training set)",
            "n_train",
        )
    return n_train


def _check_n_components(value: object, size: DatasetSize) -> int | float:
    count = _integer(value, 1, size.n_features)
    if count is not None:
        return count
    fraction = _real(value)
    if (
        fraction is None
        or isinstance(value, numbers.Integral)
        or not 0.0 < fraction < 1.0
    ):
        raise _Invalid(
            f"{{0}} must be an integer from 1 to {size.n_features} "
            "or a fraction in (0, 1)",
            "n_components",
        )
    return fraction


def _check_pca_scope(value: object) -> str:
    if not isinstance(value, str) or value not in PCA_SCOPES:
        raise _Invalid(f"{{0}} must be one of {_choices(PCA_SCOPES)}", "pca_scope")
    return value


def _check_temperature(value: object) -> float:
    temperature = _real(value)
    if temperature is None or not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise _Invalid(
            f"{{0}} must be a number from {MIN_TEMPERATURE} to {MAX_TEMPERATURE}",
            "temperature",
        )
    return temperature


def _check_seed(value: object) -> int:
    seed = _integer(value, 0, MAX_SEED)
    if seed is None:
        raise _Invalid(f"{{0}} must be an integer from 0 to {MAX_SEED}", "seed")
    return seed


def _check_grid(value: object) -> tuple[float, float, int]:
    if isinstance(value, Mapping):
        unknown = sorted(str(key) for key in value if key not in _GRID_KEYS)
        if unknown:
            raise _Invalid(
                f"{{0}} has unknown key {_escape(repr(unknown[0]))}; "
                "use start, stop and num",
                "bandwidth_grid",
            )
        missing = [key for key in _GRID_KEYS if key not in value]
        if missing:
            raise _Invalid(f"{{0}} needs {_choices(missing)}", "bandwidth_grid")
        start, stop, num = (value[key] for key in _GRID_KEYS)
    elif isinstance(value, list | tuple) and len(value) == 3:
        start, stop, num = value
    else:
        raise _Invalid(
            "{0} must be {{start, stop, num}} or [start, stop, num]", "bandwidth_grid"
        )
    start_value = _real(start)
    if start_value is None or start_value <= 0.0:
        raise _Invalid("{0} must be a positive number", "bandwidth_grid.start")
    stop_value = _real(stop)
    if stop_value is None or stop_value < start_value:
        raise _Invalid(
            "{0} must be a number at least as large as {1}",
            "bandwidth_grid.stop",
            "bandwidth_grid.start",
        )
    num_value = _integer(num, 1, MAX_GRID_NUM)
    if num_value is None:
        raise _Invalid(
            f"{{0}} must be an integer from 1 to {MAX_GRID_NUM}", "bandwidth_grid.num"
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
        raise _Invalid("{0} must be true or false", field)
    return value


def _choices(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


PRESETS: dict[str, TrainingSettings] = {
    # The original notebook: PCA(50) + a 5-fold search of 20 bandwidths on 10,000
    # MNIST images.
    "notebook": TrainingSettings(),
    # The winner of bench/sharp_search.py (README, "Models and presets"): the
    # highest classifier confidence x class balance among settings whose samples
    # are at least as far from the training set as real test images are. One PCA
    # per digit keeping 75% of that digit's variance, 3,000 images per digit, each
    # digit's gaussian bandwidth cross-validated, sampled at 1.35 times it and
    # rendered through the intensity curve.
    "sharp": TrainingSettings(
        dataset="mnist",
        n_components=0.75,
        kernel="gaussian",
        bandwidth="cv",
        bandwidth_grid=(0.02, 5.0, 33),
        cv_folds=5,
        n_train=30000,
        class_conditional=True,
        pca_scope="per_class",
        temperature=1.35,
        match_intensities=True,
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
