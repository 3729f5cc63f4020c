"""MNIST KDE Studio's numerical core: PCA + kernel density models of digit images.

numpy for the numerics; scikit-learn only for its bundled ``digits`` data and the
evaluation classifier (imported lazily); no web framework.

One module per responsibility:

- data: ``datasets`` (a package: IDX codec, sources, verified cache, `Dataset`,
  the named data sets);
- estimators: ``pca``, ``kde`` (on the kernel-sum engine ``kernel_sums``),
  ``search`` (bandwidth cross-validation), ``model`` (`ImageGenerator`), with
  their argument checks in ``validation``, and ``intensity`` (the intensity curve
  of its render step);
- training: ``settings`` (presets and validation), ``training`` (`train_model`);
- model files: ``io`` (the layout) and ``model_description`` (its ``model``
  metadata), on ``files`` (atomic writes, digests);
- scoring: ``classifier`` (the digit classifier), ``neighbours`` (novelty) and
  ``evaluate`` (the metrics); ``render`` (PNG);
- ``cli`` (``python -m generator``).

Examples
--------
>>> from generator import PRESETS, train_model
>>> result = train_model(PRESETS["preview"])
>>> result.model.sample(3, digit=7, random_state=0).shape
(3, 8, 8)
"""

from __future__ import annotations

# Set before the submodules load: generator.io records it in every model file.
__version__ = "0.1.0"

from generator.classifier import DigitClassifier, load_classifier
from generator.datasets import (
    DATASET_NAMES,
    Dataset,
    DatasetUnavailable,
    default_data_dir,
    fetch_mnist,
    load_dataset,
)
from generator.evaluate import evaluate_images, evaluate_model
from generator.files import file_sha256
from generator.io import FORMAT_VERSION, ModelFileError, load_model, save_model
from generator.kde import KernelDensity, NotFittedError
from generator.kernel_sums import KERNELS
from generator.model import ImageGenerator
from generator.pca import PCA
from generator.render import grid_to_png, image_to_png
from generator.search import (
    CrossValidationResult,
    cross_validate_bandwidth,
    search_bandwidth,
)
from generator.settings import (
    PRESETS,
    SettingsError,
    TrainingSettings,
    validate_settings,
)
from generator.training import TrainingResult, model_metadata, train_model

__all__ = [
    "DATASET_NAMES",
    "FORMAT_VERSION",
    "KERNELS",
    "PCA",
    "PRESETS",
    "CrossValidationResult",
    "Dataset",
    "DatasetUnavailable",
    "DigitClassifier",
    "ImageGenerator",
    "KernelDensity",
    "ModelFileError",
    "NotFittedError",
    "SettingsError",
    "TrainingResult",
    "TrainingSettings",
    "__version__",
    "cross_validate_bandwidth",
    "default_data_dir",
    "evaluate_images",
    "evaluate_model",
    "fetch_mnist",
    "file_sha256",
    "grid_to_png",
    "image_to_png",
    "load_classifier",
    "load_dataset",
    "load_model",
    "model_metadata",
    "save_model",
    "search_bandwidth",
    "train_model",
    "validate_settings",
]
