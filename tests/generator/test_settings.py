from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from generator.datasets import DATASET_NAMES, load_dataset
from generator.kernel_sums import KERNELS
from generator.settings import (
    DATASET_SIZES,
    MAX_SEED,
    MAX_TRAINING_CELLS,
    PRESETS,
    SettingsError,
    TrainingSettings,
    validate_settings,
)


def test_notebook_preset_is_the_default_and_the_old_notebook() -> None:
    notebook = PRESETS["notebook"]
    assert notebook == TrainingSettings()
    assert notebook.to_dict() == {
        "dataset": "mnist",
        "n_components": 50,
        "whiten": False,
        "kernel": "gaussian",
        "bandwidth": "cv",
        "bandwidth_grid": {"start": 0.1, "stop": 10.0, "num": 20},
        "cv_folds": 5,
        "n_train": 10000,
        "class_conditional": False,
        "pca_scope": "shared",
        "temperature": 1.0,
        "match_intensities": False,
        "seed": 0,
    }
    assert validate_settings({}) == notebook


def test_preview_preset_uses_every_digits_training_image() -> None:
    preview = PRESETS["preview"]
    assert preview.dataset == "digits"
    assert preview.n_train == DATASET_SIZES["digits"].n_train
    assert preview.class_conditional


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_survive_a_json_round_trip(name: str) -> None:
    settings = PRESETS[name]
    text = json.dumps(settings.to_dict(), allow_nan=False)
    assert TrainingSettings.from_dict(json.loads(text)) == settings
    assert validate_settings({}, preset=name) == settings


def test_dataset_table_matches_the_data() -> None:
    assert set(DATASET_SIZES) == set(DATASET_NAMES)
    digits = load_dataset("digits")
    size = DATASET_SIZES["digits"]
    assert size.n_train == len(digits.labels_train)
    assert size.n_test == len(digits.labels_test)
    assert size.image_shape == digits.image_shape
    assert size.n_classes == len(np.unique(digits.labels_train))
    assert size.smallest_class_train == np.bincount(digits.labels_train).min()
    assert DATASET_SIZES["mnist"].n_features == 784


VALID = [
    ("n_components", 1),
    ("n_components", 784),
    ("n_components", 0.5),
    ("n_components", 1e-9),
    ("n_components", np.int64(20)),
    ("whiten", True),
    ("kernel", "epanechnikov"),
    ("bandwidth", 0.25),
    ("bandwidth", 3),
    ("bandwidth", "scott"),
    ("bandwidth", "silverman"),
    ("bandwidth_grid", {"start": 0.5, "stop": 0.5, "num": 1}),
    ("bandwidth_grid", [0.01, 100, 50]),
    ("bandwidth_grid", {"num": 7}),
    ("cv_folds", 2),
    ("cv_folds", 10),
    ("n_train", 784),
    ("n_train", 60000),
    ("class_conditional", True),
    ("match_intensities", True),
    ("seed", 0),
    ("seed", MAX_SEED),
    ("dataset", "fashion-mnist"),
]


@pytest.mark.parametrize(("field", "value"), VALID, ids=repr)
def test_values_on_the_bounds_are_accepted(field: str, value: Any) -> None:
    settings = validate_settings({field: value})
    stored = getattr(settings, field)
    if field == "bandwidth_grid":
        assert isinstance(stored, tuple)
        assert len(stored) == 3
    else:
        assert stored == value
        assert type(stored) in (int, float, bool, str)


INVALID = [
    ("dataset", "cifar"),
    ("dataset", None),
    ("n_components", 0),
    ("n_components", 785),
    ("n_components", 1.0),
    ("n_components", 0.0),
    ("n_components", 50.0),
    ("n_components", -0.5),
    ("n_components", True),
    ("n_components", "50"),
    ("n_components", math.nan),
    ("whiten", 1),
    ("whiten", "false"),
    ("match_intensities", 1),
    ("match_intensities", "true"),
    ("match_intensities", None),
    ("kernel", "box"),
    ("kernel", 3),
    ("bandwidth", 0),
    ("bandwidth", -1.0),
    ("bandwidth", math.inf),
    ("bandwidth", math.nan),
    ("bandwidth", "auto"),
    ("bandwidth", True),
    ("bandwidth", None),
    ("bandwidth_grid", {"start": 0, "stop": 1, "num": 5}),
    ("bandwidth_grid", {"start": 2, "stop": 1, "num": 5}),
    ("bandwidth_grid", {"start": 0.1, "stop": math.inf, "num": 5}),
    ("bandwidth_grid", {"start": math.nan, "stop": 1, "num": 5}),
    ("bandwidth_grid", {"num": 0}),
    ("bandwidth_grid", {"num": 51}),
    ("bandwidth_grid", {"num": 5.0}),
    ("bandwidth_grid", {"num": True}),
    ("bandwidth_grid", {"step": 2}),
    ("bandwidth_grid", [0.1, 1.0]),
    ("bandwidth_grid", "0.1,1,5"),
    ("cv_folds", 1),
    ("cv_folds", 11),
    ("cv_folds", 5.0),
    ("cv_folds", False),
    ("n_train", 1),
    ("n_train", 60001),
    ("n_train", 100.0),
    ("n_train", True),
    ("class_conditional", 0),
    ("class_conditional", None),
    ("seed", -1),
    ("seed", MAX_SEED + 1),
    ("seed", 1.5),
    ("seed", True),
]


@pytest.mark.parametrize(("field", "value"), INVALID, ids=repr)
def test_invalid_values_name_their_field(field: str, value: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({field: value})
    assert caught.value.errors == {field: str(caught.value)}
    assert field in str(caught.value)


def test_n_components_message_is_readable() -> None:
    with pytest.raises(
        SettingsError,
        match=r"^n_components must be an integer from 1 "
        r"to 784 or a fraction in \(0, 1\)$",
    ):
        validate_settings({"n_components": 0})


def test_bounds_follow_the_chosen_dataset() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_components": 65}, preset="preview")
    assert list(caught.value.errors) == ["n_components"]
    assert "64" in str(caught.value)
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": 1439}, preset="preview")
    assert list(caught.value.errors) == ["n_train"]
    assert "1438" in str(caught.value)


def test_n_components_cannot_exceed_n_train() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": 40})
    assert list(caught.value.errors) == ["n_components"]
    assert validate_settings({"n_train": 40, "n_components": 0.9}).n_train == 40


def test_search_needs_at_least_one_image_per_fold() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": 4, "n_components": 2, "cv_folds": 5})
    assert list(caught.value.errors) == ["n_train"]
    settings = {"n_train": 4, "n_components": 2, "cv_folds": 5, "bandwidth": 1.0}
    assert validate_settings(settings).n_train == 4


def test_class_conditional_needs_enough_images_of_every_class() -> None:
    base = {"class_conditional": True, "n_components": 2}
    # MNIST's rarest digit is 9.035% of the training set: 23 images give it 2.
    with pytest.raises(SettingsError) as caught:
        validate_settings({**base, "n_train": 22})
    assert list(caught.value.errors) == ["n_train"]
    assert "at least 23" in str(caught.value)
    assert validate_settings({**base, "n_train": 23}).n_train == 23


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"components": 50})
    assert list(caught.value.errors) == ["components"]
    assert "unknown setting" in str(caught.value)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({}, preset="fast")
    assert list(caught.value.errors) == ["preset"]


def test_given_fields_override_the_preset_and_a_partial_grid_is_merged() -> None:
    settings = validate_settings(
        {"n_components": 10, "bandwidth_grid": {"num": 4}}, preset="preview"
    )
    assert settings.dataset == "digits"
    assert settings.n_components == 10
    assert settings.bandwidth_grid == (
        PRESETS["preview"].bandwidth_grid[0],
        PRESETS["preview"].bandwidth_grid[1],
        4,
    )


def test_numbers_are_normalised_to_python_types() -> None:
    settings = validate_settings(
        {"bandwidth": 2, "bandwidth_grid": [1, 2, np.int32(3)], "seed": np.int64(7)}
    )
    assert settings.bandwidth == 2.0
    assert type(settings.bandwidth) is float
    assert settings.bandwidth_grid == (1.0, 2.0, 3)
    assert [type(value) for value in settings.bandwidth_grid] == [float, float, int]
    assert type(settings.seed) is int
    json.dumps(settings.to_dict(), allow_nan=False)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(SettingsError) as caught:
        TrainingSettings(kernel="box")
    assert list(caught.value.errors) == ["kernel"]
    for kernel in KERNELS:
        assert TrainingSettings(kernel=kernel).kernel == kernel


def test_settings_are_immutable() -> None:
    with pytest.raises(AttributeError):
        PRESETS["notebook"].seed = 3  # type: ignore[misc]


def test_non_mapping_input_is_refused() -> None:
    with pytest.raises(SettingsError):
        validate_settings([("seed", 1)])  # type: ignore[arg-type]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings(
            {
                "dataset": "digits",
                "kernel": "box",
                "bandwidth": -1,
                "bandwidth_grid": {"num": 0},
                "cv_folds": 1,
                "n_train": 99999,
                "n_components": 0,
                "whiten": "no",
                "class_conditional": None,
                "seed": -1,
            }
        )
    errors = caught.value.errors
    assert errors == {
        "kernel": errors["kernel"],
        "bandwidth": errors["bandwidth"],
        "bandwidth_grid": "bandwidth_grid num must be an integer from 1 to 50",
        "cv_folds": "cv_folds must be an integer from 2 to 10",
        "n_train": (
            "n_train must be an integer from 2 to 1438 (the digits training set)"
        ),
        "n_components": (
            "n_components must be an integer from 1 to 64 or a fraction in (0, 1)"
        ),
        "whiten": "whiten must be true or false",
        "class_conditional": "class_conditional must be true or false",
        "seed": f"seed must be an integer from 0 to {MAX_SEED}",
    }
    assert errors["kernel"].startswith("kernel must be one of")
    assert errors["bandwidth"].startswith("bandwidth must be a positive number")
    assert str(caught.value) == "; ".join(errors.values())


def test_cross_field_errors_come_with_the_other_bad_fields() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": 40, "seed": 1.5, "kernel": "box"})
    assert set(caught.value.errors) == {"n_components", "seed", "kernel"}
    assert caught.value.errors["n_components"] == (
        "n_components (50) cannot exceed n_train (40)"
    )
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": 4, "n_components": 2, "whiten": 0})
    assert caught.value.errors == {
        "n_train": "n_train (4) must be at least cv_folds (5) for the bandwidth search",
        "whiten": "whiten must be true or false",
    }


def test_a_field_that_bounds_others_is_reported_alone_for_them() -> None:
    # Without a known data set there is no bound to check n_train against.
    with pytest.raises(SettingsError) as caught:
        validate_settings({"dataset": "cifar", "n_train": 10**9, "seed": -1})
    assert set(caught.value.errors) == {"dataset", "seed"}


def test_unknown_keys_and_bad_values_are_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"components": 50, "steps": 3, "cv_folds": 1})
    assert set(caught.value.errors) == {"components", "steps", "cv_folds"}
    with pytest.raises(SettingsError) as caught:
        validate_settings({"components": 50}, preset="fast")
    assert set(caught.value.errors) == {"preset", "components"}


def test_an_error_needs_at_least_one_field() -> None:
    with pytest.raises(ValueError, match="at least one error"):
        SettingsError({})


def test_a_preset_training_size_adapts_to_the_chosen_data_set() -> None:
    # The notebook preset's 10,000 images, on a data set of 1,438.
    settings = validate_settings({"dataset": "digits", "n_components": 16})
    assert settings.n_train == DATASET_SIZES["digits"].n_train
    assert validate_settings({"dataset": "mnist"}, preset="preview").n_train == 1438


def test_a_training_size_the_user_gave_is_refused_not_adapted() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"dataset": "digits", "n_train": 10000})
    assert caught.value.errors == {
        "n_train": "n_train must be an integer from 2 to 1438 (the digits training set)"
    }


def test_messages_can_name_the_settings_in_a_front_ends_words() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings(
            {
                "n_train": 40,
                "cv_folds": 1,
                "bandwidth_grid": {"start": 2.0, "stop": 1.0},
                "seed": "{0}",
            }
        )
    labels = {
        "n_components": "PCA components",
        "n_train": "Training images",
        "cv_folds": "Cross-validation folds",
        "bandwidth_grid.start": "Smallest bandwidth",
        "bandwidth_grid.stop": "Largest bandwidth",
        "seed": "Seed",
    }
    assert caught.value.worded(labels) == {
        "n_components": "PCA components (50) cannot exceed training images (40)",
        "cv_folds": "Cross-validation folds must be an integer from 2 to 10",
        "bandwidth_grid": (
            "Largest bandwidth must be a number at least as large as smallest bandwidth"
        ),
        "seed": f"Seed must be an integer from 0 to {MAX_SEED}",
    }
    # The API's wording is the field names, as before.
    assert caught.value.errors["bandwidth_grid"] == (
        "bandwidth_grid stop must be a number at least as large as bandwidth_grid start"
    )


def test_user_text_in_a_message_is_not_a_placeholder() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"bandwidth_grid": {"{0}": 1}, "{1}": 2})
    assert "'{0}'" in caught.value.errors["bandwidth_grid"]
    assert "'{1}'" in caught.value.errors["{1}"]


def test_the_largest_training_run_is_bounded() -> None:
    assert validate_settings({"n_train": 60000, "n_components": 200}).n_train == 60000
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": 60000, "n_components": 201})
    assert caught.value.errors == {
        "n_train": "n_components x n_train must be at most 12,000,000, got "
        "201 x 60,000: use at most 59,701 images"
    }
    assert MAX_TRAINING_CELLS == 12_000_000


def test_a_fraction_of_variance_counts_as_every_pixel_for_the_bound() -> None:
    allowed = MAX_TRAINING_CELLS // 784
    assert validate_settings({"n_train": allowed, "n_components": 0.9}).n_train == (
        allowed
    )
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_train": allowed + 1, "n_components": 0.9})
    assert (
        "a fraction of variance counts as all 784 pixels"
        in (caught.value.errors["n_train"])
    )


# --- Per-class PCA scope and the model's temperature ---------------------------------


def test_per_class_scope_implies_class_conditional() -> None:
    settings = validate_settings({"pca_scope": "per_class"}, preset="preview")
    assert (settings.pca_scope, settings.class_conditional) == ("per_class", True)
    notebook = validate_settings({"pca_scope": "per_class"})
    assert notebook.class_conditional


def test_per_class_scope_refuses_an_explicit_unconditional_model() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"pca_scope": "per_class", "class_conditional": False})
    assert list(caught.value.errors) == ["class_conditional"]
    assert "pca_scope" in caught.value.errors["class_conditional"]


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"pca_scope": "per-pixel"})
    assert caught.value.errors == {
        "pca_scope": 'pca_scope must be one of "shared", "per_class"'
    }


def test_per_class_components_cannot_exceed_the_smallest_class() -> None:
    # 300 stratified digits images give the rarest class 28 of them.
    with pytest.raises(SettingsError) as caught:
        validate_settings(
            {"pca_scope": "per_class", "n_components": 29, "n_train": 300},
            preset="preview",
        )
    assert list(caught.value.errors) == ["n_components"]
    assert "smallest class (28 of n_train 300)" in caught.value.errors["n_components"]
    shared = validate_settings({"n_components": 29, "n_train": 300}, preset="preview")
    assert shared.n_components == 29
    fits = validate_settings(
        {"pca_scope": "per_class", "n_components": 28, "n_train": 300},
        preset="preview",
    )
    assert fits.n_components == 28


def test_per_class_search_needs_a_fold_per_image_of_the_smallest_class() -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings(
            {"pca_scope": "per_class", "n_train": 40, "cv_folds": 5, "n_components": 2},
            preset="preview",
        )
    assert list(caught.value.errors) == ["n_train"]


def test_a_per_class_fraction_is_not_counted_as_every_pixel() -> None:
    # Shared: a fraction may keep all 784 components, so 30,000 images are too many.
    with pytest.raises(SettingsError) as caught:
        validate_settings({"n_components": 0.7, "n_train": 30000})
    assert list(caught.value.errors) == ["n_train"]
    per_class = validate_settings(
        {"n_components": 0.7, "n_train": 30000, "pca_scope": "per_class"}
    )
    assert per_class.n_train == 30000


def test_a_data_set_without_labels_cannot_have_per_class_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from generator import settings as settings_module

    unlabelled = dataclasses.replace(DATASET_SIZES["digits"], n_classes=1)
    monkeypatch.setitem(settings_module.DATASET_SIZES, "digits", unlabelled)
    with pytest.raises(SettingsError) as caught:
        validate_settings({"pca_scope": "per_class"}, preset="preview")
    assert "needs a labelled data set" in caught.value.errors["pca_scope"]


@pytest.mark.parametrize("temperature", [0.0, 0.05, 3.5, "hot", True, float("nan")])
def test_a_temperature_out_of_bounds_is_refused(temperature: object) -> None:
    with pytest.raises(SettingsError) as caught:
        validate_settings({"temperature": temperature})
    assert caught.value.errors == {
        "temperature": "temperature must be a number from 0.1 to 3.0"
    }


def test_the_temperature_is_kept() -> None:
    assert validate_settings({"temperature": 1.5}).temperature == 1.5
    assert validate_settings({"temperature": 2}).temperature == 2.0


def test_the_sharp_preset_is_the_per_class_search_winner() -> None:
    sharp = PRESETS["sharp"]
    assert (sharp.pca_scope, sharp.n_components, sharp.kernel) == (
        "per_class",
        0.75,
        "gaussian",
    )
    assert (sharp.n_train, sharp.temperature, sharp.class_conditional) == (
        30000,
        1.35,
        True,
    )
    assert sharp.match_intensities is True
    assert sharp.bandwidth_grid == (0.02, 5.0, 33)
    # --class-conditional on top of it keeps working (it already is).
    assert validate_settings({"class_conditional": True}, preset="sharp") == sharp
