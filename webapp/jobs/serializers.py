from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from webapp.gallery import services as gallery_services
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import polling, services, serving
from webapp.jobs.models import Job, ModelVersion


class JobLinksSerializer(serializers.Serializer[Job]):
    """The job's own URLs and those of its results (null until they exist)."""

    self = serializers.HyperlinkedIdentityField(view_name="api:job-detail")
    cancel = serializers.HyperlinkedIdentityField(view_name="api:job-cancel")
    model_version = serializers.HyperlinkedRelatedField[ModelVersion](
        view_name="api:model-version-detail",
        source="result_model_version_id",
        read_only=True,
    )
    gallery = serializers.HyperlinkedRelatedField[Any](
        view_name="api:gallery-detail", source="result_gallery_id", read_only=True
    )


# What Job.objects.with_results() adds to each job.
_ANNOTATIONS = ("result_model_version_id", "result_gallery_id", "queue_position")


class JobSerializer(serializers.ModelSerializer[Job]):
    url = serializers.HyperlinkedIdentityField(view_name="api:job-detail")
    queue_position = serializers.IntegerField(read_only=True, allow_null=True)
    model_version = serializers.IntegerField(
        source="result_model_version_id",
        read_only=True,
        allow_null=True,
        help_text="The model version a succeeded training job created.",
    )
    gallery = serializers.IntegerField(
        source="result_gallery_id",
        read_only=True,
        allow_null=True,
        help_text="The gallery a succeeded generation job created.",
    )
    links = JobLinksSerializer(source="*", read_only=True)

    class Meta:
        model = Job
        fields: tuple[str, ...] = (
            "id",
            "url",
            "kind",
            "name",
            "state",
            "progress",
            "phase",
            "queue_position",
            "attempts",
            "cancel_requested",
            "error",
            "log_tail",
            "params",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "model_version",
            "gallery",
            "links",
        )
        read_only_fields = fields

    def to_representation(self, job: Job) -> dict[str, Any]:
        if not hasattr(job, "result_model_version_id"):
            # Not read through Job.objects.with_results() (a job just created).
            (
                job.result_model_version_id,  # type: ignore[attr-defined]
                job.result_gallery_id,  # type: ignore[attr-defined]
                job.queue_position,  # type: ignore[attr-defined]
            ) = (
                Job.objects.filter(pk=job.pk)
                .with_results()
                .values_list(*_ANNOTATIONS)
                .first()
            ) or (None, None, services.queue_position(job))
        # The fields above describe the answer (the schema); polling.job_data, the
        # status poll's own, builds it, so a job has one shape everywhere.
        row = {name: getattr(job, name) for name in polling.ROW}
        return polling.job_data(row, self.context["request"])


class NameSerializer(serializers.Serializer[Any]):
    """``PATCH {"name": ...}``: the one field of one's own objects that changes.

    Bound to a job, model version or gallery, ``save()`` renames it.
    """

    name = serializers.CharField(max_length=100, help_text="The new name.")

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        instance.name = validated_data["name"]
        instance.save(update_fields=["name"])
        return instance

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown = sorted(set(data) - {"name"}) if isinstance(data, dict) else []
        errors = {key: ["Only the name can be changed."] for key in unknown}
        try:
            attrs: dict[str, Any] = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, dict):
                error.detail.update(errors)
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class _SettingField(serializers.Field[Any, Any, Any, Any]):
    """A setting passed through as JSON; generator.settings checks type and bounds.

    DRF's typed fields would coerce ("5" -> 5) and word errors their own way; the
    generator's validation is the one source of types, bounds and messages.
    """

    def __init__(self, help_text: str) -> None:
        super().__init__(required=False, help_text=help_text)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


_NUMBER = {"type": "number"}
_INTEGER = {"type": "integer"}


@extend_schema_field(OpenApiTypes.STR)
class _StringSetting(_SettingField):
    pass


@extend_schema_field(OpenApiTypes.NUMBER)
class _NumberSetting(_SettingField):
    pass


@extend_schema_field(OpenApiTypes.INT)
class _IntegerSetting(_SettingField):
    pass


@extend_schema_field(OpenApiTypes.BOOL)
class _BooleanSetting(_SettingField):
    pass


@extend_schema_field({"oneOf": [_NUMBER, {"type": "string"}]})
class _BandwidthSetting(_SettingField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "properties": {"start": _NUMBER, "stop": _NUMBER, "num": _INTEGER},
    }
)
class _GridSetting(_SettingField):
    pass


class TrainingRunSerializer(serializers.Serializer[Any]):
    """A training run's settings: a preset plus overrides, checked by the generator.

    The messages name settings by their field names; a page passes
    ``context={"setting_wording": {...}}`` to name them by its own labels.
    """

    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text='Shown in listings; default "<preset> run" or "custom run".',
    )
    preset = serializers.ChoiceField(
        choices=services.PRESET_NAMES,
        required=False,
        help_text="Named settings to start from (default: notebook).",
    )
    dataset = _StringSetting("mnist, fashion-mnist or digits.")
    n_components = _NumberSetting(
        "PCA components (integer) or a fraction of variance in (0, 1)."
    )
    whiten = _BooleanSetting("Whiten the PCA projections.")
    kernel = _StringSetting(
        "gaussian, tophat, epanechnikov, exponential, linear or cosine."
    )
    bandwidth = _BandwidthSetting('A positive number, or "cv", "scott" or "silverman".')
    bandwidth_grid = _GridSetting(
        "Bandwidths searched by cv: num values log-spaced from start to stop."
    )
    cv_folds = _IntegerSetting("Folds of the bandwidth search, 2..10.")
    n_train = _IntegerSetting("Training images used, up to the data set's size.")
    class_conditional = _BooleanSetting(
        "One density per digit, so a digit can be requested."
    )
    pca_scope = _StringSetting(
        '"shared" (one PCA for all images) or "per_class" (one PCA, and one '
        "cross-validated bandwidth, per digit; implies class_conditional)."
    )
    temperature = _NumberSetting(
        "The model's default sampling temperature, 0.1..3: the scale applied to "
        "every kernel's bandwidth when sampling (default 1)."
    )
    match_intensities = _BooleanSetting(
        "Render samples through an intensity curve fitted at training time, which "
        "gives the PCA reconstructions of the training images their pixel "
        "distribution (default false; true for sharp)."
    )
    seed = _IntegerSetting("Seeds the subset, the folds and the evaluation.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            attrs: dict[str, Any] = super().to_internal_value(data)
        except serializers.ValidationError as error:
            # DRF skips validate() after a field error (a name too long, an unknown
            # preset): check the settings anyway, so every bad field is reported.
            if isinstance(data, dict) and isinstance(error.detail, dict):
                preset = data.get("preset")
                known = preset if preset in services.PRESET_NAMES else None
                _, errors = self._check_settings(data, preset=known)
                for field, messages in errors.items():
                    error.detail.setdefault(
                        field,
                        [ErrorDetail(message, code="invalid") for message in messages],
                    )
            raise
        return attrs

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        preset = attrs.get("preset")
        training_settings, errors = self._check_settings(attrs, preset=preset)
        if errors:
            raise serializers.ValidationError(errors)
        name = attrs.get("name", "").strip() or f"{preset or 'custom'} run"
        return {"name": name, "settings": training_settings}

    def _check_settings(
        self, values: dict[str, Any], *, preset: str | None
    ) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
        """The validated settings, or the messages of every unknown or bad field."""
        errors: dict[str, list[str]] = {}
        if isinstance(self.initial_data, dict):
            for key in sorted(set(self.initial_data) - set(self.fields)):
                errors[key] = ["Unknown field."]
        given = {key: values[key] for key in services.SETTING_NAMES if key in values}
        try:
            training_settings = services.validate_training_settings(
                given, preset=preset
            )
        except services.SettingsError as error:
            worded = error.worded(self.context.get("setting_wording"))
            errors.update({field: [message] for field, message in worded.items()})
            return None, errors
        return (None if errors else training_settings), errors


class _ModelVersionField(serializers.PrimaryKeyRelatedField[ModelVersion]):
    """The id of a model version the caller may sample: a JSON integer, or digits
    as text (the HTML form).

    Someone else's private model version "does not exist", exactly like an
    unknown id. It is read by `serving.usable_model_version`, not the field's
    queryset: compiling that query anew took a tenth of a submission. DRF's
    lookup would take any other number: ``1e309`` overflows (a 500), ``1.5`` and
    ``true`` would find model version 1.
    """

    def to_internal_value(self, data: Any) -> ModelVersion:
        if isinstance(data, bool | float):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            model_version = serving.usable_model_version(
                self.context["request"].user, data
            )
        except ValidationError:
            self.fail("incorrect_type", data_type=type(data).__name__)
        if model_version is None:
            self.fail("does_not_exist", pk_value=data)
        return model_version


def _walk_end(
    *, help_text: str, maximum: int | None = None
) -> serializers.IntegerField:
    """An optional end point of a walk: a digit (up to ``maximum``) or an image id."""
    return serializers.IntegerField(
        min_value=0 if maximum is not None else 1,
        max_value=maximum,
        required=False,
        allow_null=True,
        help_text=help_text,
    )


#: The end points of a walk, as the API names them.
WALK_ENDS = ("from_digit", "to_digit", "from_image", "to_image")


class GenerationSerializer(serializers.Serializer[Any]):
    model_version = _ModelVersionField(
        queryset=ModelVersion.objects.none(),
        required=False,
        allow_null=True,
        help_text="Your model version or the public demo; default: your default.",
    )
    n_images = serializers.IntegerField(
        min_value=1, max_value=services.MAX_GENERATION_IMAGES, default=16
    )
    digit = serializers.IntegerField(
        min_value=0,
        max_value=9,
        required=False,
        allow_null=True,
        help_text="Only for class-conditional model versions.",
    )
    seed = serializers.IntegerField(
        min_value=0,
        max_value=services.MAX_SEED,
        required=False,
        allow_null=True,
        help_text="Default: a random seed (recorded in the job).",
    )
    temperature = serializers.FloatField(
        min_value=services.MIN_TEMPERATURE,
        max_value=services.MAX_TEMPERATURE,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "The bandwidth scale at sampling: every kernel's bandwidth is "
            "multiplied by it. Lower stays closer to the training images (higher "
            "fidelity), higher is more novel and noisier. Default: the model "
            "version's own (its training setting temperature, 1.0 unless set)."
        ),
    )
    mode = serializers.ChoiceField(
        choices=Gallery.Mode.choices,
        default="samples",
        help_text="samples: independent images; walk: n_images frames of a smooth "
        "walk through the model's latent space between two end points.",
    )
    from_digit = _walk_end(
        maximum=9,
        help_text="A walk starts at a sample of this digit (per-class models).",
    )
    to_digit = _walk_end(
        maximum=9, help_text="A walk ends at a sample of this digit (per-class models)."
    )
    from_image = _walk_end(
        help_text="A walk starts at this gallery image of yours (its id), projected "
        "into the model. Random when neither from_* is given."
    )
    to_image = _walk_end(
        help_text="A walk ends at this gallery image of yours (its id)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model_version = attrs.get("model_version")
        if model_version is None:
            model_version = serving.default_model_version(self.context["request"].user)
            if model_version is None:
                raise serializers.ValidationError(
                    {
                        "model_version": [
                            "You have no default model version yet: train one, "
                            "or pass model_version (for example the public demo)."
                        ]
                    }
                )
        _check_digit(model_version, attrs.get("digit"), "digit")
        walk = self._walk(attrs, model_version)
        attrs = {
            key: value
            for key, value in attrs.items()
            if key != "mode" and key not in WALK_ENDS
        }
        return {**attrs, "model_version": model_version, "walk": walk}

    def _walk(
        self, attrs: dict[str, Any], model_version: ModelVersion
    ) -> dict[str, int | None] | None:
        """A walk's end points, checked; None for samples."""
        ends = {field: attrs.get(field) for field in WALK_ENDS}
        if attrs.get("mode") != Gallery.Mode.WALK:
            for field, value in ends.items():
                if value is not None:
                    raise serializers.ValidationError(
                        {field: ['Only for "mode": "walk".']}
                    )
            return None
        if attrs.get("digit") is not None:
            raise serializers.ValidationError(
                {"digit": ["A walk has no one digit: use from_digit and to_digit."]}
            )
        if not 2 <= attrs["n_images"] <= services.MAX_WALK_FRAMES:
            raise serializers.ValidationError(
                {"n_images": [f"A walk has 2 to {services.MAX_WALK_FRAMES} frames."]}
            )
        owner = self.context["request"].user
        for side in ("from", "to"):
            digit, image_id = ends[f"{side}_digit"], ends[f"{side}_image"]
            if digit is not None and image_id is not None:
                raise serializers.ValidationError(
                    {f"{side}_image": [f"Give {side}_digit or {side}_image, not both."]}
                )
            _check_digit(model_version, digit, f"{side}_digit")
            if image_id is not None:
                _check_walk_image(owner, model_version, image_id, f"{side}_image")
        return ends


def _check_digit(model_version: ModelVersion, digit: int | None, field: str) -> None:
    """A requested digit must be one the class-conditional model knows."""
    if digit is None:
        return
    if not model_version.is_class_conditional:
        raise serializers.ValidationError(
            {
                field: [
                    "This model version is not class-conditional, so it "
                    "cannot generate a chosen digit."
                ]
            }
        )
    classes = model_version.metrics.get("classes") or []
    if classes and digit not in classes:
        raise serializers.ValidationError(
            {field: [f"This model version only knows the digits {classes}."]}
        )


def _check_walk_image(
    owner: Any, model_version: ModelVersion, image_id: int, field: str
) -> None:
    """A walk's end image must be one of the owner's, of the model's size."""
    image = GeneratedImage.objects.for_owner(owner).filter(pk=image_id).first()
    if image is None:
        raise serializers.ValidationError(
            {field: [f"You have no gallery image with the id {image_id}."]}
        )
    pixels = model_version.metrics.get("original_dim")
    width, height = gallery_services.png_size(bytes(image.png))
    if pixels is not None and height * width != pixels:
        raise serializers.ValidationError(
            {
                field: [
                    f"Image {image_id} is {width}x{height} pixels, which this "
                    "model version cannot project: it was trained on images of "
                    f"{pixels} pixels."
                ]
            }
        )


class ModelVersionSerializer(serializers.ModelSerializer[ModelVersion]):
    url = serializers.HyperlinkedIdentityField(view_name="api:model-version-detail")
    owner = serializers.CharField(source="owner.username", read_only=True)
    is_default = serializers.SerializerMethodField(
        help_text="The caller's default model version."
    )
    stats = serializers.SerializerMethodField()
    test_log_likelihood = serializers.SerializerMethodField()
    download_url = serializers.HyperlinkedIdentityField(
        view_name="api:model-version-download"
    )
    training_job: serializers.PrimaryKeyRelatedField[Job] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )

    class Meta:
        model = ModelVersion
        fields: tuple[str, ...] = (
            "id",
            "url",
            "name",
            "version",
            "owner",
            "dataset",
            "dataset_digest",
            "settings",
            "seed",
            "code_version",
            "stats",
            "test_log_likelihood",
            "is_default",
            "is_public",
            "model_sha256",
            "model_size",
            "download_url",
            "training_job",
            "created_at",
        )
        read_only_fields = fields

    def get_is_default(self, model_version: ModelVersion) -> bool:
        request = self.context.get("request")
        user_id = request.user.pk if request is not None else None
        return model_version.is_default and model_version.owner_id == user_id

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "pca_components": _INTEGER,
                "variance_explained": _NUMBER,
                "kde_bandwidth": _NUMBER,
                "original_dim": _INTEGER,
                "reduced_dim": _INTEGER,
            },
        }
    )
    def get_stats(self, model_version: ModelVersion) -> dict[str, Any]:
        return model_version.stats()

    def get_test_log_likelihood(self, model_version: ModelVersion) -> float | None:
        value = model_version.metrics.get("test_log_likelihood")
        return float(value) if value is not None else None


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = (*ModelVersionSerializer.Meta.fields, "metrics")
        read_only_fields = fields
