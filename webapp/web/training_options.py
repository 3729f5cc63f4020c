"""The training form's options: presets, data sets, kernels and bounds, read from
the generator.

Validation itself is not here: the pages run the API's serializers, which call
``webapp.jobs.services``; this module only lists what the form offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings

from generator.datasets import DATASET_NAMES, Availability, dataset_availability
from generator.kernel_sums import KERNELS
from generator.settings import (
    BANDWIDTH_RULES,
    DATASET_SIZES,
    MAX_CV_FOLDS,
    MAX_GRID_NUM,
    MAX_SEED,
    MAX_TEMPERATURE,
    MIN_CV_FOLDS,
    MIN_TEMPERATURE,
)
from webapp.jobs import services

SETTING_NAMES = services.SETTING_NAMES

__all__ = [
    "BANDWIDTH_RULES",
    "DATASET_NAMES",
    "KERNELS",
    "MAX_CV_FOLDS",
    "MAX_GRID_NUM",
    "MAX_SEED",
    "MAX_TEMPERATURE",
    "MIN_CV_FOLDS",
    "MIN_TEMPERATURE",
    "SETTING_NAMES",
    "Availability",
    "DatasetFacts",
    "Preset",
    "dataset_availabilities",
    "dataset_facts",
    "preset_settings",
    "presets",
]

# What each preset is for, in the words the form shows. A preset the generator
# adds later still appears, under its own name.
_PRESET_TEXT = {
    "notebook": (
        "The original notebook",
        "50 PCA components on 10,000 MNIST images, Gaussian kernel, bandwidth "
        "chosen by 5-fold cross-validation over 20 values.",
    ),
    "preview": (
        "Fast preview on digits",
        "scikit-learn's 8\u00d78 digits: trains in a few seconds, good for a "
        "first try.",
    ),
    "sharp": (
        "Sharper samples",
        "The settings our evaluation found to give the most recognisable digits "
        "without copying the training set: one PCA per digit, 30,000 MNIST "
        "images, sampled at temperature 1.35 and rendered with the training "
        "images' pixel intensities.",
    ),
}
_PRESET_ORDER = ("notebook", "preview", "sharp")


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    description: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class DatasetFacts:
    name: str
    n_train: int
    n_test: int
    image_shape: tuple[int, int]

    @property
    def n_features(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


def presets() -> list[Preset]:
    """Every named preset with its validated settings (the API's own defaults)."""
    names = sorted(
        services.PRESET_NAMES,
        key=lambda name: (
            _PRESET_ORDER.index(name) if name in _PRESET_ORDER else len(_PRESET_ORDER),
            name,
        ),
    )
    result = []
    for name in names:
        label, description = _PRESET_TEXT.get(name, (name, ""))
        settings = services.validate_training_settings({}, preset=name)
        result.append(Preset(name, label, description, settings))
    return result


def preset_settings(name: str | None) -> dict[str, Any] | None:
    """The validated settings of a preset (None: the default one), or None for a
    name that is no preset."""
    if name is not None and name not in services.PRESET_NAMES:
        return None
    return services.validate_training_settings({}, preset=name)


def dataset_facts() -> list[DatasetFacts]:
    """Sizes of each data set, for help texts and bounds shown on the form."""
    return [
        DatasetFacts(
            name=name,
            n_train=DATASET_SIZES[name].n_train,
            n_test=DATASET_SIZES[name].n_test,
            image_shape=DATASET_SIZES[name].image_shape,
        )
        for name in DATASET_NAMES
    ]


def dataset_availabilities() -> dict[str, Availability]:
    """Whether each data set can be trained on here, looked at on every call (a
    data set becomes available once a training has cached it)."""
    return {
        name: dataset_availability(name, data_dir=django_settings.DATA_DIR)
        for name in DATASET_NAMES
    }
