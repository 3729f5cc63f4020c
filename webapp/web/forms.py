"""Forms of the pages.

The forms render fields and turn text into JSON values; they do not decide what is
valid. Each page hands the values to the same DRF serializer the REST API uses and
puts that serializer's messages on the fields (``add_serializer_errors``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.html import format_html, format_html_join

from webapp.web import training_options

BANDWIDTH_VALUE = "value"
SETTING_FIELDS = training_options.SETTING_NAMES

# Settings in the order and words of the form.
SETTING_LABELS = {
    "dataset": "Data set",
    "n_components": "PCA components",
    "whiten": "Whitening",
    "kernel": "Kernel",
    "bandwidth": "Bandwidth",
    "bandwidth_grid": "Bandwidth grid",
    "cv_folds": "Cross-validation folds",
    "n_train": "Training images",
    "class_conditional": "Class-conditional",
    "pca_scope": "PCA scope",
    "temperature": "Sampling temperature",
    "match_intensities": "Intensity curve",
    "seed": "Seed",
}
# The grid's parts: form fields of their own.
GRID_LABELS = {
    "start": "Smallest bandwidth",
    "stop": "Largest bandwidth",
    "num": "Bandwidths tried",
}
#: How the form's error messages name the settings (the API names its fields).
SETTING_WORDING = {
    **SETTING_LABELS,
    **{f"bandwidth_grid.{key}": label for key, label in GRID_LABELS.items()},
}
_GRID_FIELDS = {"start": "grid_start", "stop": "grid_stop", "num": "grid_num"}

# How the dataset menu words generator.datasets.Availability's states.
_AVAILABILITY_WORDS = {
    "available": "ready",
    "fetchable": "fetched on first use",
    "unavailable": "not available here",
}
_DATASET_TEXT = {
    "mnist": "28\u00d728 handwritten digits",
    "fashion-mnist": "28\u00d728 clothing",
    "digits": "scikit-learn's small 8\u00d78 digits (fastest)",
}


def _number_input(*, integer: bool, placeholder: str = "") -> forms.TextInput:
    # type=text (not number): a browser blanks unparseable number input, and the
    # user's text must reach the validator to get its message back.
    attrs = {
        "inputmode": "numeric" if integer else "decimal",
        "autocomplete": "off",
        "spellcheck": "false",
    }
    if placeholder:
        attrs["placeholder"] = placeholder
    return forms.TextInput(attrs=attrs)


def parse_number(text: str) -> int | float | str:
    """``"50"`` -> 50, ``"0.9"`` -> 0.9; anything else is returned as given."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        return stripped


def _sizes_text() -> str:
    return ", ".join(
        f"{facts.n_train:,} for {facts.name}"
        for facts in training_options.dataset_facts()
    )


def _features_text() -> str:
    return ", ".join(
        f"{facts.n_features} for {facts.name}"
        for facts in training_options.dataset_facts()
    )


class _DatasetSelect(forms.Select):
    """A menu whose unavailable data sets can be seen but not chosen."""

    unavailable: frozenset[str] = frozenset()

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        if option["value"] in self.unavailable:
            option["attrs"]["disabled"] = True
        return option


class TrainingRunForm(forms.Form):
    """Every setting of ``POST /api/v1/training-runs``.

    No field validates anything itself (choices included): a bad value reaches
    the API's serializer and comes back with the API's message.
    """

    preset = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(
        required=False,
        help_text="Shown in your history. Blank: named after the preset.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 100}),
    )
    # Choices and help text say which data sets this server has (see __init__).
    dataset = forms.CharField(label="Data set", widget=_DatasetSelect)
    n_components = forms.CharField(
        label="PCA components or variance fraction",
        widget=_number_input(integer=False),
        help_text=(
            "A whole number keeps that many principal components (at most the "
            f"pixel count: {_features_text()}); a fraction between 0 and 1, such "
            "as 0.9, keeps as many as needed to explain that share of the variance."
        ),
    )
    whiten = forms.BooleanField(
        label="Whiten the components",
        required=False,
        help_text=(
            "Scale every component to unit variance before the density estimate, "
            "so one bandwidth fits all directions equally."
        ),
    )
    kernel = forms.CharField(
        widget=forms.Select(
            choices=[(name, name) for name in training_options.KERNELS]
        ),
        help_text=(
            "The shape of the bump placed on every training point. Gaussian is "
            "smooth; tophat, epanechnikov, linear and cosine have compact support."
        ),
    )
    bandwidth_mode = forms.CharField(
        label="Bandwidth",
        widget=forms.RadioSelect(
            choices=[
                ("cv", "Cross-validate over a grid"),
                ("scott", "Scott's rule"),
                ("silverman", "Silverman's rule"),
                (BANDWIDTH_VALUE, "A fixed value"),
            ]
        ),
        help_text=(
            "The width of each kernel. Cross-validation picks the value with the "
            "best held-out log-likelihood; the rules of thumb are instant."
        ),
    )
    bandwidth_value = forms.CharField(
        label="Fixed bandwidth",
        required=False,
        widget=_number_input(integer=False, placeholder="e.g. 1.5"),
        help_text="A positive number, used only with “A fixed value”.",
    )
    grid_start = forms.CharField(
        label=GRID_LABELS["start"],
        required=False,
        widget=_number_input(integer=False),
        help_text="Where the grid starts (positive).",
    )
    grid_stop = forms.CharField(
        label=GRID_LABELS["stop"],
        required=False,
        widget=_number_input(integer=False),
        help_text="Where it ends.",
    )
    grid_num = forms.CharField(
        label=GRID_LABELS["num"],
        required=False,
        widget=_number_input(integer=True),
        help_text=(
            "How many values, spaced logarithmically "
            f"(1 to {training_options.MAX_GRID_NUM})."
        ),
    )
    cv_folds = forms.CharField(
        label="Cross-validation folds",
        required=False,
        widget=_number_input(integer=True),
        help_text=(
            f"{training_options.MIN_CV_FOLDS} to {training_options.MAX_CV_FOLDS}. "
            "More folds: a steadier choice, a slower search."
        ),
    )
    n_train = forms.CharField(
        label="Training images",
        widget=_number_input(integer=True),
        help_text=(
            "A seeded random subset of the training split, up to its size "
            f"({_sizes_text()}). Left at the preset's value, it shrinks to fit a "
            "smaller data set. Time grows with the square of this number."
        ),
    )
    class_conditional = forms.BooleanField(
        label="Class-conditional (one density per digit)",
        required=False,
        help_text=(
            "Fits a separate density for each label, so you can ask for a "
            "particular digit when generating."
        ),
    )
    pca_scope = forms.CharField(
        label="PCA scope",
        widget=forms.RadioSelect(
            choices=[
                ("shared", "One PCA shared by all digits"),
                ("per_class", "One PCA per digit (implies class-conditional)"),
            ]
        ),
        help_text=(
            "Per digit: each digit gets its own mean, components (a fraction keeps "
            "that share of the digit's own variance) and cross-validated "
            "bandwidth, so the few components describe how that digit varies."
        ),
    )
    temperature = forms.CharField(
        label="Sampling temperature",
        widget=_number_input(integer=False),
        help_text=(
            f"{training_options.MIN_TEMPERATURE} to "
            f"{training_options.MAX_TEMPERATURE}: the model's default scale of "
            "every kernel's bandwidth when sampling (generations may override it). "
            "Lower: closer to the training images; higher: more novel, noisier."
        ),
    )
    match_intensities = forms.BooleanField(
        label="Render with real pixel intensities (intensity curve)",
        required=False,
        help_text=(
            "Fits a curve at training time that gives the PCA reconstructions of "
            "the training images their pixel distribution, and renders every "
            "sample through it: crisp strokes on a black background instead of "
            "grey edges."
        ),
    )
    seed = forms.CharField(
        label="Seed",
        widget=_number_input(integer=True),
        help_text=(
            f"0 to {training_options.MAX_SEED:,}. The same seed and settings give the "
            "same model."
        ),
    )

    REQUIRED = (
        "dataset",
        "n_components",
        "kernel",
        "bandwidth_mode",
        "n_train",
        "seed",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # Blank values are judged in api_data, next to the API's checks.
            field.required = False
        _mark_optional(self, "name")
        self.availability = training_options.dataset_availabilities()
        dataset = self.fields["dataset"]
        widget = dataset.widget
        assert isinstance(widget, _DatasetSelect)
        widget.choices = [
            (name, f"{name} ({_AVAILABILITY_WORDS[availability.state]})")
            for name, availability in self.availability.items()
        ]
        widget.unavailable = frozenset(
            name
            for name, availability in self.availability.items()
            if availability.state == "unavailable"
        )
        dataset.help_text = format_html(
            '<ul class="dataset-states">{}</ul>',
            format_html_join(
                "",
                '<li data-dataset-state="{}"><strong>{}</strong> ({}): {}. {}</li>',
                (
                    (
                        availability.state,
                        name,
                        _AVAILABILITY_WORDS[availability.state],
                        _DATASET_TEXT.get(name, name),
                        availability.detail,
                    )
                    for name, availability in self.availability.items()
                ),
            ),
        )

    @classmethod
    def initial_from_settings(
        cls, settings: Mapping[str, Any], *, preset: str, name: str = ""
    ) -> dict[str, Any]:
        """Form values showing ``settings`` (a validated settings dict)."""
        bandwidth = settings["bandwidth"]
        grid = settings["bandwidth_grid"]
        is_rule = isinstance(bandwidth, str)
        return {
            "preset": preset,
            "name": name,
            "dataset": settings["dataset"],
            "n_components": _text(settings["n_components"]),
            "whiten": settings["whiten"],
            "kernel": settings["kernel"],
            "bandwidth_mode": bandwidth if is_rule else BANDWIDTH_VALUE,
            "bandwidth_value": "" if is_rule else _text(bandwidth),
            "grid_start": _text(grid["start"]),
            "grid_stop": _text(grid["stop"]),
            "grid_num": _text(grid["num"]),
            "cv_folds": _text(settings["cv_folds"]),
            "n_train": _text(settings["n_train"]),
            "class_conditional": settings["class_conditional"],
            "pca_scope": settings["pca_scope"],
            "temperature": _text(settings["temperature"]),
            "match_intensities": settings["match_intensities"],
            "seed": _text(settings["seed"]),
        }

    def api_data(self) -> dict[str, Any]:
        """The request body the REST API would receive for these values.

        Call after ``is_valid()``. A blank value that the chosen mode needs gets
        a field error here; other text is passed on for the API's validation.
        """
        data = self.cleaned_data
        for name in self.REQUIRED:
            if not str(data.get(name) or "").strip():
                self.add_error(name, "Enter a value.")
        body: dict[str, Any] = {}
        if data.get("preset"):
            body["preset"] = data["preset"]
        if data.get("name"):
            body["name"] = data["name"]
        for key in ("dataset", "kernel", "pca_scope"):
            if data.get(key):
                body[key] = data[key]
        body["whiten"] = bool(data.get("whiten"))
        body["match_intensities"] = bool(data.get("match_intensities"))
        # One PCA per digit implies one density per digit, box ticked or not.
        body["class_conditional"] = bool(data.get("class_conditional")) or (
            data.get("pca_scope") == "per_class"
        )
        for key in ("n_components", "n_train", "temperature", "seed"):
            if data.get(key, "") != "":
                body[key] = parse_number(data[key])
        mode = data.get("bandwidth_mode")
        if mode == BANDWIDTH_VALUE:
            if data.get("bandwidth_value", "").strip():
                body["bandwidth"] = parse_number(data["bandwidth_value"])
            else:
                self.add_error("bandwidth_value", "Enter the bandwidth to use.")
        elif mode:
            body["bandwidth"] = mode
        grid = {
            key: parse_number(data[field])
            for key, field in _GRID_FIELDS.items()
            if data.get(field, "").strip()
        }
        if mode == "cv":
            for key, field in _GRID_FIELDS.items():
                if key not in grid:
                    self.add_error(field, "Enter a value for the bandwidth search.")
            if not data.get("cv_folds", "").strip():
                self.add_error("cv_folds", "Enter the number of folds.")
        # Outside cv mode a blank grid or fold count keeps the preset's values.
        if len(grid) == len(_GRID_FIELDS):
            body["bandwidth_grid"] = grid
        if data.get("cv_folds", "").strip():
            body["cv_folds"] = parse_number(data["cv_folds"])
        return _without_preset_values(body)

    def field_for_error(self, key: str, message: str) -> str | None:
        """The form field that shows an error about ``key``, worded as
        `SETTING_WORDING` says."""
        if key == "bandwidth":
            mode = self.cleaned_data.get("bandwidth_mode")
            return "bandwidth_value" if mode == BANDWIDTH_VALUE else "bandwidth_mode"
        if key == "bandwidth_grid":
            for part in ("num", "stop"):
                if message.startswith(GRID_LABELS[part]):
                    return _GRID_FIELDS[part]
            return _GRID_FIELDS["start"]
        if key in self.fields and key != "preset":
            return key
        return None


SINGLE_RUN, SWEEP = "single", "sweep"
#: The PCA sizes the sweep mode offers to tick (all fit every data set).
SWEEP_COMPONENTS = (5, 10, 20, 30, 50)
#: The sweep mode's checkbox groups and the settings they vary.
_SWEEP_SETTINGS = {
    "sweep_kernel": "kernel",
    "sweep_n_components": "n_components",
    "sweep_bandwidth": "bandwidth",
    "sweep_whiten": "whiten",
}


def _ticks(label: str, choices: Sequence[tuple[str, str]]) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class SweepValuesForm(forms.Form):
    """The training form's mode, and in sweep mode the values ticked per setting.

    Every combination of the ticked values (on top of the training form's
    settings) becomes a run of ``POST /api/v1/sweeps``.
    """

    mode = forms.ChoiceField(
        label="Mode",
        choices=[(SINGLE_RUN, "One training run"), (SWEEP, "A parameter sweep")],
        widget=forms.RadioSelect,
        required=False,
    )
    sweep_kernel = _ticks(
        "Kernels", [(name, name) for name in training_options.KERNELS]
    )
    sweep_n_components = _ticks(
        "PCA components", [(str(n), str(n)) for n in SWEEP_COMPONENTS]
    )
    sweep_bandwidth = _ticks(
        "Bandwidth rules",
        [("cv", "cross-validated"), ("scott", "Scott's"), ("silverman", "Silverman's")],
    )
    sweep_whiten = _ticks("Whitening", [("false", "off"), ("true", "on")])

    @property
    def is_sweep(self) -> bool:
        # From the raw data: a bad tick must not turn the sweep into a single run.
        return bool(self.data.get("mode") == SWEEP)

    def grid(self) -> dict[str, list[Any]]:
        """The API's ``grid``: each setting with a value ticked, as JSON values."""
        if not self.is_valid():
            return {}
        grid: dict[str, list[Any]] = {}
        for field, setting in _SWEEP_SETTINGS.items():
            ticked = self.cleaned_data.get(field) or []
            if setting == "whiten":
                values: list[Any] = [value == "true" for value in ticked]
            else:
                values = [parse_number(value) for value in ticked]
            if values:
                grid[setting] = values
        if not grid:
            self.add_error(
                None, "Tick at least one value to try for a setting of the sweep."
            )
        return grid

    def field_for_error(self, key: str, message: str) -> str | None:
        """The checkbox group showing an error about setting ``key``."""
        return next(
            (field for field, setting in _SWEEP_SETTINGS.items() if setting == key),
            None,
        )


def _without_preset_values(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the settings left at the preset's values.

    A form always sends every field; a value the user did not change is not
    theirs, so the generator adapts it to the data set chosen (the preset's
    training images, capped at the data set's size) instead of refusing it.
    """
    preset = training_options.preset_settings(body.get("preset"))
    if preset is None:
        return body
    return {
        key: value
        for key, value in body.items()
        if key not in SETTING_FIELDS or value != preset[key]
    }


def _mark_optional(form: forms.Form, *names: str) -> None:
    # Only fields a person may really leave blank say "(optional)"; the grid
    # fields are not required by the form but are by the cv mode.
    for name in names:
        form.fields[name].show_optional = True  # type: ignore[attr-defined]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        # 10.0 -> "10": a grid end point reads as the number the user typed.
        return str(int(value))
    return str(value)


class GenerationForm(forms.Form):
    """Every field of ``POST /api/v1/generations`` except the model version."""

    mode = forms.ChoiceField(
        label="What to draw",
        choices=[
            ("samples", "Independent samples"),
            ("walk", "A walk between two points (a strip of frames and a GIF)"),
        ],
        initial="samples",
        required=False,
        widget=forms.RadioSelect,
    )
    n_images = forms.CharField(
        label="Number of images",
        initial="16",
        widget=_number_input(integer=True),
        help_text="1 to 256; a walk has 2 to 64 frames.",
    )
    digit = forms.ChoiceField(
        required=False,
        choices=[("", "Any digit")],
        help_text=(
            "This model has one density per digit. “Any digit” follows the "
            "label proportions of the training set."
        ),
    )
    seed = forms.CharField(
        required=False,
        widget=_number_input(integer=True, placeholder="random"),
        help_text="Blank for a random seed; the gallery records the one used.",
    )
    temperature = forms.CharField(
        initial="1.0",
        widget=_number_input(integer=False),
        help_text=(
            "0.1 to 3; starts at the model's own. Every kernel's bandwidth is "
            "multiplied by it when sampling: lower stays closer to the training "
            "images, higher is more varied (and noisier)."
        ),
    )

    from_digit = forms.ChoiceField(
        label="Start", required=False, choices=[("", "Random")]
    )
    to_digit = forms.ChoiceField(label="End", required=False, choices=[("", "Random")])
    from_image = forms.CharField(
        label="Start image",
        required=False,
        widget=_number_input(integer=True, placeholder="image id"),
        help_text="The id of one of your gallery images (shown as #id under it).",
    )
    to_image = forms.CharField(
        label="End image",
        required=False,
        widget=_number_input(integer=True, placeholder="image id"),
    )

    def __init__(
        self, *args: Any, digits: Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _mark_optional(self, "seed", "from_image", "to_image")
        if digits is None:
            for name in ("digit", "from_digit", "to_digit"):
                del self.fields[name]
            return
        for name, blank in (
            ("digit", "Any digit"),
            ("from_digit", "Random"),
            ("to_digit", "Random"),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [("", blank), *((str(d), str(d)) for d in digits)]


class SignUpForm(forms.Form):
    """The API's registration fields plus a repeated password."""

    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and @/./+/-/_ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password_confirm = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("password")
            and cleaned.get("password_confirm")
            and cleaned["password"] != cleaned["password_confirm"]
        ):
            self.add_error("password_confirm", "The two passwords differ.")
        return cleaned


def add_serializer_errors(
    form: forms.Form,
    errors: Mapping[str, Any],
    field_for: Any = None,
) -> None:
    """Put a DRF serializer's ``errors`` on the form's fields (or the form)."""
    for key, messages in errors.items():
        for message in _flatten(messages):
            target = field_for(key, message) if field_for is not None else key
            if target not in form.fields:
                target = None
            if message in form.errors.get(target or "__all__", []):
                continue
            form.add_error(target, message)


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]
