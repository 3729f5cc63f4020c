"""Model files: one ``.npz`` of plain arrays plus a JSON metadata entry.

Nothing is ever unpickled. A file is read with ``allow_pickle=False`` and every
entry is checked (names, dtypes, shapes, consistency) before a model is built
from it, so a damaged, tampered or foreign file fails with `ModelFileError`
instead of producing a model that misbehaves later.

Layout of format version 1 (``C`` densities, ``N`` training points, ``k``
components, ``D`` pixels):

==========================  =======  ================================
entry                       dtype    shape
==========================  =======  ================================
``metadata``                uint8    (bytes,) UTF-8 JSON object
``pca_components``          float64  (k, D)
``pca_mean``                float64  (D,)
``pca_explained_variance``  float64  (k,)
``kde_points``              float64  (N, k), grouped by density
``kde_counts``              int64    (C,) points per density
``kde_bandwidths``          float64  (C,)
``classes``                 int64    (C,), or (0,) if unconditional
``class_priors``            float64  same shape as ``classes``
``cv_bandwidths``           float64  (g,), only after a search
``cv_fold_log_likelihood``  float64  (folds, g), only after a search
``cv_exact``                bool     (g,), only after a search that left some
                                     bandwidths out: which ones it computed
==========================  =======  ================================

Format version 2 is written for per-class models (``pca_scope="per_class"``,
``C`` classes, class ``c`` keeping ``k_c`` components, ``K = max k_c``); shared
models are still written as version 1, so older software reads them:

==========================  =======  ================================
``pca_components``          float64  (sum k_c, D), class by class
``pca_mean``                float64  (C, D)
``pca_explained_variance``  float64  (sum k_c,)
``pca_component_counts``    int64    (C,) the k_c
``kde_points``              float64  (N, K), class c's rows in its first
                                     k_c columns, zeros after
``cv_fold_log_likelihood``  float64  (C, folds, g), one search per class
``cv_exact``                bool     (C, g), when any class's search left
                                     bandwidths out
==========================  =======  ================================

Format version 3 is written for models with an intensity curve
(``match_intensities``, either scope; `generator.intensity`), so software from
before the curve refuses them instead of sampling without it; models without
one are still written as version 1 or 2:

==========================  =======  ================================
``intensity_curve``         float64  (2, k), the curve's inputs then its
                                     outputs, both non-decreasing
==========================  =======  ================================

The metadata's ``model`` object (hyperparameters and fitted scalars) is read and
written by `generator.model_description`.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from importlib import metadata as package_metadata
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from generator.files import write_atomically
from generator.intensity import check_intensity_curve
from generator.kde import KernelDensity
from generator.model import ImageGenerator
from generator.model_description import ModelDescription, describe_model
from generator.pca import PCA
from generator.search import CrossValidationResult
from generator.settings import MAX_TRAINING_CELLS

__all__ = [
    "FORMAT_VERSION",
    "MAX_ARRAY_BYTES",
    "ModelFileError",
    "load_model",
    "save_model",
]

FORMAT_VERSION = 3
#: What models without an intensity curve are written as, so that software from
#: before the curve still reads them: per-class models 2, shared-scope ones 1
#: (their layout has not changed). A model with a curve is version 3, which older
#: software refuses as newer rather than sampling it without its curve.
_PER_CLASS_FORMAT_VERSION = 2
_SHARED_FORMAT_VERSION = 1
#: The largest entry `load_model` reads: the KDE's points of the largest training
#: run allowed (`generator.settings.MAX_TRAINING_CELLS` float64 values).
MAX_ARRAY_BYTES = 8 * MAX_TRAINING_CELLS

#: Top-level metadata keys written by `save_model` itself.
RESERVED_METADATA_KEYS = ("format_version", "library_versions", "model")

_REQUIRED = {
    "metadata": np.uint8,
    "pca_components": np.float64,
    "pca_mean": np.float64,
    "pca_explained_variance": np.float64,
    "kde_points": np.float64,
    "kde_counts": np.int64,
    "kde_bandwidths": np.float64,
    "classes": np.int64,
    "class_priors": np.float64,
}
_OPTIONAL = {
    "cv_bandwidths": np.float64,
    "cv_fold_log_likelihood": np.float64,
    "pca_component_counts": np.int64,
    "intensity_curve": np.float64,
}
# Optional within a search's entries: absent, every bandwidth was computed.
_SEARCH_OPTIONAL = {"cv_exact": np.bool_}
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL = b"\x80"


class ModelFileError(ValueError):
    """A model file is not one this software wrote, or is damaged."""


def save_model(
    model: ImageGenerator,
    file: str | os.PathLike[str] | IO[bytes],
    *,
    metadata: Mapping[str, Any],
) -> None:
    """Write a fitted model to a single ``.npz`` file.

    Parameters
    ----------
    model : ImageGenerator
        A fitted model.
    file : str, os.PathLike or binary file object
        A path is written atomically (to a temporary file, then renamed), so a
        crash never leaves half a model under that name; no suffix is added.
    metadata : Mapping
        JSON-serialisable caller data stored alongside, typically ``settings``,
        ``dataset`` (``{"name", "digest"}``) and ``metrics``. The keys
        ``format_version``, ``library_versions`` and ``model`` are reserved.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(size=(40, 4))
    >>> model = ImageGenerator(n_components=2, bandwidth=0.2)
    >>> model = model.fit(X, image_shape=(2, 2))
    >>> buffer = io.BytesIO()
    >>> save_model(model, buffer, metadata={"note": "demo"})
    >>> load_model(buffer.getvalue())[1]["note"]
    'demo'
    """
    model.check_is_fitted()
    clashing = sorted(set(metadata) & set(RESERVED_METADATA_KEYS))
    if clashing:
        raise ValueError(f"metadata key {clashing[0]!r} is reserved by the file format")
    document: dict[str, Any] = {
        "format_version": _format_version(model),
        "library_versions": _library_versions(),
        "model": describe_model(model),
        **metadata,
    }
    try:
        text = json.dumps(document, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata must be JSON-serialisable: {error}") from error

    arrays = _model_arrays(model)
    arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if isinstance(file, str | os.PathLike):
        write_atomically(Path(file), lambda stream: _savez(stream, arrays))
    else:
        _savez(file, arrays)


def load_model(
    file: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    max_array_bytes: int = MAX_ARRAY_BYTES,
) -> tuple[ImageGenerator, dict[str, Any]]:
    """Read a model written by `save_model`, validating every entry.

    Parameters
    ----------
    file : str, os.PathLike, bytes or binary file object
    max_array_bytes : int, default MAX_ARRAY_BYTES
        The largest decompressed size of one entry, checked from its header
        before it is read (a zip bomb never gets decompressed).

    Returns
    -------
    model : ImageGenerator
        Samples exactly like the model that was saved.
    metadata : dict
        The caller's metadata plus ``format_version``, ``library_versions`` and
        ``model`` (the hyperparameters and fitted scalars).

    Raises
    ------
    ModelFileError
        Not a ``.npz`` archive (a pickle, say), truncated or corrupted, an object
        array, an entry larger than ``max_array_bytes``, missing or unexpected
        entries, wrong dtypes or inconsistent shapes, invalid metadata, or a
        format version newer than `FORMAT_VERSION`.
    """
    content = _read_all(file)
    if content.startswith(_PICKLE_PROTOCOL):
        raise ModelFileError(
            "not a model file: this looks like a Python pickle, which is never "
            "loaded; model files are .npz archives"
        )
    if not content.startswith(_ZIP_MAGIC):
        raise ModelFileError("not a model file: expected a .npz (zip) archive")
    arrays = _read_arrays(content, max_array_bytes)
    document = _parse_metadata(arrays)
    model = _build_model(arrays, document)
    return model, document


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #


def _format_version(model: ImageGenerator) -> int:
    if model.intensity_curve_ is not None:
        return FORMAT_VERSION
    return _PER_CLASS_FORMAT_VERSION if model.is_per_class else _SHARED_FORMAT_VERSION


def _library_versions() -> dict[str, str]:
    from generator import __version__

    versions = {"numpy": np.__version__, "generator": __version__}
    for package in ("scipy", "scikit-learn"):
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _model_arrays(model: ImageGenerator) -> dict[str, NDArray[Any]]:
    pcas = model.pcas_
    points = [np.asarray(kde.X_, dtype=np.float64) for kde in model.kdes_]
    width = max(block.shape[1] for block in points)
    padded = np.zeros((sum(len(block) for block in points), width), dtype=np.float64)
    row = 0
    for block in points:
        padded[row : row + len(block), : block.shape[1]] = block
        row += len(block)
    if model.classes_ is None:
        classes = np.zeros(0, dtype=np.int64)
        priors = np.zeros(0, dtype=np.float64)
    else:
        assert model.class_priors_ is not None
        classes = np.asarray(model.classes_, dtype=np.int64)
        priors = np.asarray(model.class_priors_, dtype=np.float64)
    means = np.stack([np.asarray(pca.mean_, dtype=np.float64) for pca in pcas])
    arrays: dict[str, NDArray[Any]] = {
        "pca_components": np.concatenate(
            [np.asarray(pca.components_, dtype=np.float64) for pca in pcas]
        ),
        "pca_mean": means if model.is_per_class else means[0],
        "pca_explained_variance": np.concatenate(
            [np.asarray(pca.explained_variance_, np.float64) for pca in pcas]
        ),
        "kde_points": padded,
        "kde_counts": np.array([len(block) for block in points], dtype=np.int64),
        "kde_bandwidths": np.asarray(model.kde_bandwidths_, dtype=np.float64),
        "classes": classes,
        "class_priors": priors,
    }
    if model.intensity_curve_ is not None:
        arrays["intensity_curve"] = np.asarray(model.intensity_curve_, np.float64)
    if model.is_per_class:
        arrays["pca_component_counts"] = np.array(
            [pca.n_components_ for pca in pcas], dtype=np.int64
        )
    searches = (
        model.class_cv_results_
        if model.is_per_class
        else None
        if model.cv_result_ is None
        else [model.cv_result_]
    )
    if searches:
        arrays["cv_bandwidths"] = np.asarray(searches[0].bandwidths, dtype=np.float64)
        folds = [
            np.asarray(search.fold_log_likelihood, dtype=np.float64)
            for search in searches
        ]
        arrays["cv_fold_log_likelihood"] = (
            np.stack(folds) if model.is_per_class else folds[0]
        )
        exacts = [search.exact for search in searches]
        if any(exact is not None for exact in exacts):
            flags = [
                np.ones(len(search.bandwidths), dtype=np.bool_)
                if exact is None
                else np.asarray(exact, dtype=np.bool_)
                for search, exact in zip(searches, exacts, strict=True)
            ]
            arrays["cv_exact"] = np.stack(flags) if model.is_per_class else flags[0]
    return arrays


def _savez(stream: IO[bytes], arrays: Mapping[str, NDArray[Any]]) -> None:
    entries: dict[str, Any] = dict(arrays)
    np.savez(stream, **entries)


# --------------------------------------------------------------------------- #
# Reading and validation
# --------------------------------------------------------------------------- #


def _read_all(file: str | os.PathLike[str] | bytes | IO[bytes]) -> bytes:
    if isinstance(file, bytes | bytearray | memoryview):
        return bytes(file)
    if isinstance(file, str | os.PathLike):
        try:
            return Path(file).read_bytes()
        except OSError as error:
            raise ModelFileError(f"cannot read model file {file}: {error}") from error
    content = file.read()
    if not isinstance(content, bytes):
        raise ModelFileError("model file objects must be opened in binary mode")
    return content


def _read_arrays(content: bytes, max_array_bytes: int) -> dict[str, NDArray[Any]]:
    """Every entry of the archive, each checked from its headers before reading.

    The zip directory's names and each ``.npy`` header's dtype and shape are
    checked first, so a hostile file (a zip bomb, a header declaring terabytes)
    is refused before anything is decompressed or allocated, and reading an entry
    never decompresses more than its header declared.
    """
    arrays: dict[str, NDArray[Any]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            names = [_entry_name(info.filename) for info in members]
            if len(set(names)) != len(names):
                raise ModelFileError("model file has a duplicated entry")
            _check_names(set(names))
            for name, info in zip(names, members, strict=True):
                arrays[name] = _read_entry(archive, info, name, max_array_bytes)
    except (
        OSError,
        EOFError,
        ValueError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
    ) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(
            f"model file is truncated or damaged: {error or type(error).__name__}"
        ) from error
    return arrays


def _entry_name(filename: str) -> str:
    if not filename.endswith(".npy"):
        raise ModelFileError(f"model file has an unexpected entry {filename!r}")
    return filename[: -len(".npy")]


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_array_bytes: int
) -> NDArray[Any]:
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ModelFileError(f"model file entry {name!r} has npy version {version}")
    if dtype.hasobject:
        raise ModelFileError(
            "model file contains an object array (pickled data), which is never loaded"
        )
    expected = np.dtype({**_REQUIRED, **_OPTIONAL, **_SEARCH_OPTIONAL}[name])
    if dtype != expected:
        raise ModelFileError(
            f"model file entry {name!r} has dtype {dtype}, expected {expected}"
        )
    size = math.prod(shape) * dtype.itemsize
    if size > max_array_bytes:
        raise ModelFileError(
            f"model file is damaged or hostile: entry {name!r} would decompress to "
            f"{size:,} bytes, more than the {max_array_bytes:,} allowed per array"
        )
    with archive.open(info) as member:
        # Reads exactly the header's shape; the last read reaches the end of the
        # entry, where zipfile checks its CRC.
        array = np.lib.format.read_array(member, allow_pickle=False)
        if member.read(1):
            raise ModelFileError(f"model file entry {name!r} has trailing data")
    return array


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _parse_metadata(arrays: Mapping[str, NDArray[Any]]) -> dict[str, Any]:
    if "metadata" not in arrays:
        raise ModelFileError("model file has no 'metadata' entry")
    raw = arrays["metadata"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError("model file 'metadata' must be a 1-D uint8 array")
    try:
        document = json.loads(
            raw.tobytes().decode("utf-8"), parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelFileError(
            f"model file metadata is not valid JSON: {error}"
        ) from None
    if not isinstance(document, dict):
        raise ModelFileError("model file metadata must be a JSON object")
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(
            f"model file has no valid format_version (got {version!r})"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file format version {version} is newer than this software "
            f"supports ({FORMAT_VERSION})"
        )
    return document


def _check_names(names: set[str]) -> None:
    missing = sorted(set(_REQUIRED) - names)
    if missing:
        raise ModelFileError(f"model file is missing the entry {missing[0]!r}")
    unexpected = sorted(names - set(_REQUIRED) - set(_OPTIONAL) - set(_SEARCH_OPTIONAL))
    if unexpected:
        raise ModelFileError(f"model file has an unexpected entry {unexpected[0]!r}")
    search = {"cv_bandwidths", "cv_fold_log_likelihood"}
    if len(names & search) == 1:
        raise ModelFileError(
            "model file must hold both cv_bandwidths and cv_fold_log_likelihood, "
            "or neither"
        )
    if names & set(_SEARCH_OPTIONAL) and not names & search:
        raise ModelFileError("model file has cv_exact but no search")


def _fail_shape(name: str, array: NDArray[Any], expected: str) -> ModelFileError:
    return ModelFileError(
        f"model file entry {name!r} has shape {array.shape}, expected {expected}"
    )


def _build_model(
    arrays: Mapping[str, NDArray[Any]], document: Mapping[str, Any]
) -> ImageGenerator:
    description = document.get("model")
    if not isinstance(description, dict):
        raise ModelFileError("model file metadata has no 'model' object")
    try:
        hyper = ModelDescription(description)
    except ValueError as error:
        raise ModelFileError(str(error)) from None

    per_class = hyper.pca_scope == "per_class"
    components = arrays["pca_components"]
    if components.ndim != 2 or 0 in components.shape:
        raise _fail_shape("pca_components", components, "(k, D)")
    total_components, n_features = components.shape
    widths = _component_counts(arrays, per_class, total_components)
    n_pcas = widths.size
    mean = arrays["pca_mean"]
    expected_mean = (n_pcas, n_features) if per_class else (n_features,)
    if mean.shape != expected_mean:
        raise _fail_shape("pca_mean", mean, str(expected_mean).replace(" ", ""))
    variance = arrays["pca_explained_variance"]
    if variance.shape != (total_components,):
        raise _fail_shape("pca_explained_variance", variance, f"({total_components},)")
    n_components = int(widths.max())
    points = arrays["kde_points"]
    if points.ndim != 2 or points.shape[1] != n_components or points.shape[0] < 1:
        raise _fail_shape("kde_points", points, f"(N, {n_components})")
    counts = arrays["kde_counts"]
    if counts.ndim != 1 or counts.size < 1:
        raise _fail_shape("kde_counts", counts, "(C,)")
    if (counts < 1).any() or int(counts.sum()) != points.shape[0]:
        raise ModelFileError(
            "model file kde_counts must be positive and add up to the "
            f"{points.shape[0]} rows of kde_points"
        )
    n_densities = counts.size
    if per_class and n_densities != n_pcas:
        raise ModelFileError(
            "model file must hold one PCA per class: "
            f"{n_pcas} PCAs for {n_densities} densities"
        )
    bandwidths = arrays["kde_bandwidths"]
    if bandwidths.shape != (n_densities,):
        raise _fail_shape("kde_bandwidths", bandwidths, f"({n_densities},)")
    classes = arrays["classes"]
    priors = arrays["class_priors"]
    expected_classes = n_densities if hyper.class_conditional else 0
    if classes.shape != (expected_classes,):
        raise _fail_shape("classes", classes, f"({expected_classes},)")
    if priors.shape != classes.shape:
        raise _fail_shape("class_priors", priors, f"({expected_classes},)")
    if not hyper.class_conditional and n_densities != 1:
        raise ModelFileError("an unconditional model must have exactly one density")
    for name in ("pca_components", "pca_mean", "pca_explained_variance", "kde_points"):
        if not np.isfinite(arrays[name]).all():
            raise ModelFileError(f"model file entry {name!r} has non-finite values")
    if (variance < 0).any():
        raise ModelFileError("model file pca_explained_variance must be >= 0")
    if not (np.isfinite(bandwidths).all() and (bandwidths > 0).all()):
        raise ModelFileError("model file kde_bandwidths must be positive and finite")
    if classes.size:
        if (np.diff(classes) <= 0).any():
            raise ModelFileError("model file classes must be sorted and distinct")
        if not (
            np.isfinite(priors).all()
            and (priors > 0).all()
            and abs(float(priors.sum()) - 1.0) < 1e-9
        ):
            raise ModelFileError("model file class_priors must be positive, sum to 1")
    if isinstance(hyper.n_components, int) and (widths != hyper.n_components).any():
        raise ModelFileError(
            f"model file asks for {hyper.n_components} components but holds "
            f"{', '.join(str(width) for width in widths)}"
        )
    if _bandwidths_agree(hyper, bandwidths, priors, per_class) is False:
        raise ModelFileError("model file kde_bandwidths disagree with bandwidth_")
    height, width = hyper.image_shape
    if height * width != n_features:
        raise ModelFileError(
            f"model file image_shape {height}x{width} does not match the "
            f"{n_features} pixels of pca_mean"
        )
    if len(hyper.total_variances) != n_pcas or len(hyper.pca_n_samples) != n_pcas:
        raise ModelFileError(
            "model file pca_total_variance and pca_n_samples need one value per PCA"
        )
    component_offsets = np.concatenate([[0], np.cumsum(widths)])
    point_offsets = np.concatenate([[0], np.cumsum(counts)])
    pcas = []
    for index in range(n_pcas):
        kept = slice(component_offsets[index], component_offsets[index + 1])
        if not hyper.total_variances[index] >= float(variance[kept].sum()) * (1 - 1e-9):
            raise ModelFileError(
                "model file pca_total_variance is smaller than the kept variance"
            )
        if hyper.pca_n_samples[index] < max(2, int(widths[index])):
            raise ModelFileError("model file pca_n_samples is too small")
        pcas.append(
            PCA.from_arrays(
                components[kept],
                mean[index] if per_class else mean,
                variance[kept],
                total_variance=hyper.total_variances[index],
                n_samples=hyper.pca_n_samples[index],
                n_components=hyper.n_components,
                whiten=hyper.whiten,
            )
        )
    kdes = []
    for index in range(n_densities):
        rows = points[point_offsets[index] : point_offsets[index + 1]]
        density_width = int(widths[index]) if per_class else n_components
        if (rows[:, density_width:] != 0).any():
            raise ModelFileError("model file kde_points has values in the padding")
        kdes.append(
            KernelDensity(bandwidth=float(bandwidths[index]), kernel=hyper.kernel).fit(
                rows[:, :density_width]
            )
        )
    cv_result, class_cv_results = _searches(arrays, hyper, bandwidths, per_class)
    curve = arrays.get("intensity_curve")
    if (curve is not None) != hyper.match_intensities:
        raise ModelFileError(
            "model file must hold an intensity_curve exactly when "
            "model.match_intensities is true"
        )
    if curve is not None:
        try:
            check_intensity_curve(curve)
        except ValueError as error:
            raise ModelFileError(f"model file intensity_curve: {error}") from None

    return ImageGenerator.from_fitted(
        hyper.hyperparameters(),
        pca=pcas,
        kdes=kdes,
        classes=classes if hyper.class_conditional else None,
        class_priors=priors if hyper.class_conditional else None,
        fitted_bandwidth=hyper.fitted_bandwidth,
        cv_result=cv_result,
        image_shape=(height, width),
        fit_seconds=hyper.fit_seconds,
        class_cv_results=class_cv_results,
        intensity_curve=curve,
    )


def _component_counts(
    arrays: Mapping[str, NDArray[Any]], per_class: bool, total_components: int
) -> NDArray[np.int64]:
    """How many components each PCA keeps: ``[k]``, or the per-class ``k_c``."""
    if not per_class:
        if "pca_component_counts" in arrays:
            raise ModelFileError(
                "model file has pca_component_counts but is not a per-class model"
            )
        return np.array([total_components], dtype=np.int64)
    if "pca_component_counts" not in arrays:
        raise ModelFileError("a per-class model file needs pca_component_counts")
    widths = arrays["pca_component_counts"]
    if widths.ndim != 1 or widths.size < 1:
        raise _fail_shape("pca_component_counts", widths, "(C,)")
    if (widths < 1).any() or int(widths.sum()) != total_components:
        raise ModelFileError(
            "model file pca_component_counts must be positive and add up to the "
            f"{total_components} rows of pca_components"
        )
    return widths


def _bandwidths_agree(
    hyper: ModelDescription,
    bandwidths: NDArray[np.float64],
    priors: NDArray[np.float64],
    per_class: bool,
) -> bool:
    """Whether ``bandwidth_`` is what the fit makes of the densities' bandwidths."""
    if (bandwidths == hyper.fitted_bandwidth).all():
        return True
    if (hyper.class_conditional and hyper.bandwidth in ("scott", "silverman")) or (
        per_class and hyper.bandwidth == "cv"
    ):
        # One bandwidth per class: bandwidth_ is their prior-weighted mean.
        return math.isclose(
            float(priors @ bandwidths), hyper.fitted_bandwidth, rel_tol=1e-9
        )
    return False


def _searches(
    arrays: Mapping[str, NDArray[Any]],
    hyper: ModelDescription,
    bandwidths: NDArray[np.float64],
    per_class: bool,
) -> tuple[CrossValidationResult | None, list[CrossValidationResult] | None]:
    """The stored bandwidth search: the shared one, or one per class."""
    if "cv_bandwidths" not in arrays:
        return None, None
    grid = arrays["cv_bandwidths"]
    folds = arrays["cv_fold_log_likelihood"]
    if grid.ndim != 1 or grid.size < 1:
        raise _fail_shape("cv_bandwidths", grid, "(g,)")
    if not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ModelFileError("model file cv_bandwidths must be positive")
    if np.isnan(folds).any() or (folds == np.inf).any():
        raise ModelFileError("model file cv_fold_log_likelihood has invalid values")
    exact = arrays.get("cv_exact")
    if per_class:
        if (
            folds.ndim != 3
            or folds.shape[0] != bandwidths.size
            or folds.shape[1] < 2
            or folds.shape[2] != grid.size
        ):
            raise _fail_shape(
                "cv_fold_log_likelihood",
                folds,
                f"({bandwidths.size}, folds, {grid.size})",
            )
        if exact is not None and exact.shape != (bandwidths.size, grid.size):
            raise _fail_shape("cv_exact", exact, f"({bandwidths.size}, {grid.size})")
        return None, [
            CrossValidationResult(
                bandwidths=grid,
                fold_log_likelihood=class_folds,
                mean_log_likelihood=class_folds.mean(axis=0),
                best_bandwidth=float(best),
                exact=None if exact is None or exact[index].all() else exact[index],
            )
            for index, (class_folds, best) in enumerate(
                zip(folds, bandwidths, strict=True)
            )
        ]
    if folds.ndim != 2 or folds.shape[1] != grid.size or folds.shape[0] < 2:
        raise _fail_shape("cv_fold_log_likelihood", folds, f"(folds, {grid.size})")
    best = hyper.cv_best_bandwidth
    if best is None:
        raise ModelFileError("model file has a search but no cv_best_bandwidth")
    if exact is not None and exact.shape != grid.shape:
        raise _fail_shape("cv_exact", exact, f"({grid.size},)")
    return (
        CrossValidationResult(
            bandwidths=grid,
            fold_log_likelihood=folds,
            mean_log_likelihood=folds.mean(axis=0),
            best_bandwidth=best,
            exact=exact,
        ),
        None,
    )
