"""The intensity curve (``match_intensities``): fitted at training time, stored in
the model file, applied to every sample after the inverse transform."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest

from generator.datasets import Dataset
from generator.intensity import (
    apply_intensity_curve,
    check_intensity_curve,
    fit_intensity_curve,
)
from generator.io import FORMAT_VERSION, ModelFileError, load_model, save_model
from generator.model import MAX_INTENSITY_IMAGES, SAMPLE_PIXEL_MAX, ImageGenerator
from generator.walk import latent_walk

SHAPE = (8, 8)


def fitted(digits: Dataset, **overrides: Any) -> ImageGenerator:
    params: dict[str, Any] = {
        "n_components": 0.6,
        "bandwidth": "cv",
        "bandwidth_grid": (0.1, 10.0, 8),
        "cv_folds": 3,
        "class_conditional": True,
        "pca_scope": "per_class",
        "match_intensities": True,
        "random_state": 0,
    }
    params.update(overrides)
    model = ImageGenerator(**params)
    return model.fit(digits.features("train"), digits.labels_train, image_shape=SHAPE)


@pytest.fixture(scope="module")
def model(digits: Dataset) -> ImageGenerator:
    return fitted(digits)


def twin_without_curve(model: ImageGenerator) -> ImageGenerator:
    """The same fitted PCAs and densities, rendered without the curve."""
    params = {
        name: getattr(model, name)
        for name in (
            "n_components",
            "whiten",
            "kernel",
            "bandwidth",
            "bandwidth_grid",
            "cv_folds",
            "class_conditional",
            "pca_scope",
            "temperature",
            "random_state",
        )
    }
    return ImageGenerator.from_fitted(
        params,
        pca=model.pcas_,
        kdes=model.kdes_,
        classes=model.classes_,
        class_priors=model.class_priors_,
        fitted_bandwidth=model.bandwidth_,
        cv_result=model.cv_result_,
        image_shape=model.image_shape_,
        fit_seconds=model.fit_seconds_,
        class_cv_results=model.class_cv_results_,
    )


def test_a_fitted_curve_matches_the_quantiles_of_source_and_target() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(0.5, 0.2, size=5000)
    target = np.where(rng.uniform(size=5000) < 0.8, 0.0, rng.uniform(size=5000))
    curve = fit_intensity_curve(source, target, n_knots=11)
    levels = np.linspace(0, 1, 11)
    np.testing.assert_array_equal(curve[0], np.quantile(source, levels))
    np.testing.assert_array_equal(curve[1], np.quantile(target, levels))
    mapped = apply_intensity_curve(curve, source)
    # Histogram matching: the mapped values have the target's distribution.
    np.testing.assert_allclose(
        np.quantile(mapped, levels), np.quantile(target, levels), atol=0.02
    )
    assert np.all(np.diff(apply_intensity_curve(curve, np.sort(source))) >= 0)


@pytest.mark.parametrize(
    "curve",
    [
        np.zeros((3, 4)),
        np.zeros((2, 1)),
        np.zeros((2, 4), dtype=np.float32),
        np.array([[0.0, 1.0], [np.nan, 1.0]]),
        np.array([[0.0, 1.0], [1.0, 0.0]]),
    ],
    ids=["three rows", "one knot", "float32", "nan", "decreasing"],
)
def test_an_invalid_curve_is_refused(curve: np.ndarray) -> None:
    with pytest.raises(ValueError, match="intensity curve"):
        check_intensity_curve(curve)


def test_fitting_stores_the_curve_of_the_reconstructions_onto_the_training_pixels(
    model: ImageGenerator, digits: Dataset
) -> None:
    features, labels = digits.features("train"), digits.labels_train
    assert len(features) <= MAX_INTENSITY_IMAGES  # every image fits the curve
    reconstructed = np.empty_like(features)
    assert model.classes_ is not None
    for label, pca in zip(model.classes_, model.pcas_, strict=True):
        members = labels == label
        reconstructed[members] = pca.inverse_transform(pca.transform(features[members]))
    expected = fit_intensity_curve(reconstructed, features)
    assert model.intensity_curve_ is not None
    np.testing.assert_allclose(model.intensity_curve_, expected, atol=1e-12)


def test_a_model_without_the_setting_has_no_curve(digits: Dataset) -> None:
    plain = fitted(digits, match_intensities=False, pca_scope="shared")
    assert plain.intensity_curve_ is None


def test_the_shared_scope_fits_a_curve_too(digits: Dataset) -> None:
    shared = fitted(digits, pca_scope="shared", n_components=10)
    features = digits.features("train")
    reconstructed = shared.pca_.inverse_transform(shared.pca_.transform(features))
    assert shared.intensity_curve_ is not None
    np.testing.assert_allclose(
        shared.intensity_curve_, fit_intensity_curve(reconstructed, features)
    )


def test_large_trainings_fit_the_curve_on_evenly_spaced_images(
    monkeypatch: pytest.MonkeyPatch, digits: Dataset
) -> None:
    monkeypatch.setattr("generator.model.MAX_INTENSITY_IMAGES", 100)
    shared = fitted(digits, pca_scope="shared", n_components=10)
    features = digits.features("train")
    rows = np.linspace(0, len(features) - 1, 100).round().astype(np.int64)
    reconstructed = shared.pca_.inverse_transform(shared.pca_.transform(features))
    expected = fit_intensity_curve(reconstructed[rows], features[rows])
    assert shared.intensity_curve_ is not None
    np.testing.assert_allclose(shared.intensity_curve_, expected)


def test_render_maps_through_the_curve_then_clips_and_quantises(
    model: ImageGenerator,
) -> None:
    pixels = np.random.default_rng(1).uniform(-0.3, 1.3, size=(5, 64))
    assert model.intensity_curve_ is not None
    expected = np.rint(
        np.clip(np.interp(pixels, *model.intensity_curve_), 0, 1) * SAMPLE_PIXEL_MAX
    ).astype(np.uint8)
    np.testing.assert_array_equal(model.render(pixels), expected.reshape(5, *SHAPE))
    plain = np.rint(np.clip(pixels, 0, 1) * SAMPLE_PIXEL_MAX).astype(np.uint8)
    np.testing.assert_array_equal(
        twin_without_curve(model).render(pixels), plain.reshape(5, *SHAPE)
    )


def test_samples_get_the_training_images_share_of_background(
    model: ImageGenerator, digits: Dataset
) -> None:
    # Real digits are mostly exact background; PCA reconstructions almost never
    # are. The curve restores the training images' share of black pixels.
    real_black = float(np.mean(digits.features("train") == 0))
    with_curve = model.sample(2000, random_state=0)
    without = twin_without_curve(model).sample(2000, random_state=0)
    error_with = abs(float(np.mean(with_curve == 0)) - real_black)
    error_without = abs(float(np.mean(without == 0)) - real_black)
    assert error_without > 0.1
    assert error_with < error_without / 3


def test_per_seed_samples_are_rendered_through_the_curve_too(
    model: ImageGenerator,
) -> None:
    seeds = [3, 4, 5]
    each = [model.sample(1, digit=2, random_state=seed)[0] for seed in seeds]
    assert np.array_equal(model.sample_seeds(seeds, digit=2), np.stack(each))
    plain = twin_without_curve(model).sample_seeds(seeds, digit=2)
    assert not np.array_equal(model.sample_seeds(seeds, digit=2), plain)


def test_walk_frames_are_rendered_through_the_curve(model: ImageGenerator) -> None:
    start, end = model.sample(2, random_state=3)
    frames = latent_walk(model, start, end, 4)
    plain = latent_walk(twin_without_curve(model), start, end, 4)
    assert not np.array_equal(frames, plain)
    assert float(np.mean(frames == 0)) > float(np.mean(plain == 0))


def test_the_curve_survives_the_model_file_as_format_version_3(
    model: ImageGenerator,
) -> None:
    buffer = io.BytesIO()
    save_model(model, buffer, metadata={})
    loaded, metadata = load_model(buffer.getvalue())
    assert metadata["format_version"] == FORMAT_VERSION == 3
    assert metadata["model"]["match_intensities"] is True
    assert loaded.match_intensities is True
    assert loaded.intensity_curve_ is not None
    assert model.intensity_curve_ is not None
    np.testing.assert_array_equal(loaded.intensity_curve_, model.intensity_curve_)
    for digit in (None, 4):
        assert np.array_equal(
            loaded.sample(30, digit=digit, random_state=2),
            model.sample(30, digit=digit, random_state=2),
        )


def _saved(model: ImageGenerator) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    save_model(model, buffer, metadata={})
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _written(arrays: dict[str, np.ndarray], **model_fields: Any) -> bytes:
    document = json.loads(arrays["metadata"].tobytes())
    for key, value in model_fields.items():
        if value is None:
            document["model"].pop(key)
        else:
            document["model"][key] = value
    arrays = {
        **arrays,
        "metadata": np.frombuffer(json.dumps(document).encode(), dtype=np.uint8),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_files_from_before_the_curve_still_load_without_one(
    model: ImageGenerator,
) -> None:
    plain = twin_without_curve(model)
    arrays = _saved(plain)
    assert "intensity_curve" not in arrays
    assert json.loads(arrays["metadata"].tobytes())["format_version"] == 2
    # Older software wrote no match_intensities at all.
    loaded, _ = load_model(_written(arrays, match_intensities=None))
    assert loaded.match_intensities is False
    assert loaded.intensity_curve_ is None
    assert np.array_equal(
        loaded.sample(20, random_state=5), plain.sample(20, random_state=5)
    )


def test_a_curve_and_the_flag_must_come_together(model: ImageGenerator) -> None:
    arrays = _saved(model)
    with pytest.raises(ModelFileError, match="intensity_curve"):
        load_model(_written(arrays, match_intensities=False))
    without = {
        name: array for name, array in arrays.items() if name != "intensity_curve"
    }
    with pytest.raises(ModelFileError, match="intensity_curve"):
        load_model(_written(without))
    with pytest.raises(ModelFileError, match="match_intensities"):
        load_model(_written(arrays, match_intensities="yes"))


@pytest.mark.parametrize(
    "curve",
    [np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, np.inf], [0.0, 1.0]])],
    ids=["decreasing", "infinite"],
)
def test_a_damaged_curve_is_refused(model: ImageGenerator, curve: np.ndarray) -> None:
    arrays = {**_saved(model), "intensity_curve": curve}
    with pytest.raises(ModelFileError, match="intensity_curve"):
        load_model(_written(arrays))


def test_fit_refuses_a_non_boolean_setting(digits: Dataset) -> None:
    with pytest.raises(ValueError, match="match_intensities"):
        fitted(digits, match_intensities="yes")
