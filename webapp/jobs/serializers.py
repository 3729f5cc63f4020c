from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from webapp.jobs import services
from webapp.jobs.models import Job, ModelVersion


def _url(view_name: str, pk: object, context: Mapping[str, Any]) -> str:
    return reverse(view_name, kwargs={"pk": pk}, request=context.get("request"))


class JobSerializer(serializers.ModelSerializer[Job]):
    url = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField(
        help_text="The model version a succeeded training job created."
    )
    gallery = serializers.SerializerMethodField(
        help_text="The gallery a succeeded generation job created."
    )
    links = serializers.SerializerMethodField()

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

    def get_url(self, job: Job) -> str:
        return _url("api:job-detail", job.pk, self.context)

    def get_queue_position(self, job: Job) -> int | None:
        return services.queue_position(job)

    def _results(self, job: Job) -> tuple[int | None, int | None]:
        if hasattr(job, "result_model_version_id"):
            # Annotated by JobViewSet.get_queryset: no query per row.
            return job.result_model_version_id, getattr(job, "result_gallery_id", None)
        return services.job_result_ids(job)

    def get_model_version(self, job: Job) -> int | None:
        return self._results(job)[0]

    def get_gallery(self, job: Job) -> int | None:
        return self._results(job)[1]

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string", "nullable": True}}
    )
    def get_links(self, job: Job) -> dict[str, str | None]:
        model_version_id, gallery_id = self._results(job)
        return {
            "self": self.get_url(job),
            "cancel": _url("api:job-cancel", job.pk, self.context),
            "model_version": None
            if model_version_id is None
            else _url("api:model-version-detail", model_version_id, self.context),
            "gallery": None
            if gallery_id is None
            else _url("api:gallery-detail", gallery_id, self.context),
        }


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
    """A training run's settings: a preset plus overrides, checked by the generator."""

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
    seed = _IntegerSetting("Seeds the subset, the folds and the evaluation.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field."] for key in unknown}
                )
        preset = attrs.get("preset")
        given = {key: attrs[key] for key in services.SETTING_NAMES if key in attrs}
        try:
            training_settings = services.validate_training_settings(
                given, preset=preset
            )
        except services.SettingsError as error:
            raise serializers.ValidationError(
                {field: [message] for field, message in error.errors.items()}
            ) from None
        name = attrs.get("name", "").strip() or f"{preset or 'custom'} run"
        return {"name": name, "settings": training_settings}


class _ModelVersionField(serializers.PrimaryKeyRelatedField[ModelVersion]):
    """A model version id: a JSON integer, or digits as text (the HTML form).

    DRF hands any other number to the query: ``1e309`` overflows (a 500), ``1.5``
    and ``true`` would find model version 1.
    """

    def to_internal_value(self, data: Any) -> ModelVersion:
        if isinstance(data, bool | float):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


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
        default=1.0,
        help_text="Multiplies the bandwidth: lower is closer to the training data.",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Someone else's private model version is "does not exist", exactly
            # like an unknown id.
            fields["model_version"] = _ModelVersionField(
                queryset=services.visible_model_versions(request.user),
                required=False,
                allow_null=True,
            )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model_version = attrs.get("model_version")
        if model_version is None:
            model_version = services.default_model_version(self.context["request"].user)
            if model_version is None:
                raise serializers.ValidationError(
                    {
                        "model_version": [
                            "You have no default model version yet: train one, "
                            "or pass model_version (for example the public demo)."
                        ]
                    }
                )
        digit = attrs.get("digit")
        if digit is not None:
            if not model_version.is_class_conditional:
                raise serializers.ValidationError(
                    {
                        "digit": [
                            "This model version is not class-conditional, so it "
                            "cannot generate a chosen digit."
                        ]
                    }
                )
            classes = model_version.metrics.get("classes") or []
            if classes and digit not in classes:
                raise serializers.ValidationError(
                    {"digit": [f"This model version only knows the digits {classes}."]}
                )
        return {**attrs, "model_version": model_version}


class ModelVersionSerializer(serializers.ModelSerializer[ModelVersion]):
    url = serializers.SerializerMethodField()
    owner = serializers.CharField(source="owner.username", read_only=True)
    is_default = serializers.SerializerMethodField(
        help_text="The caller's default model version."
    )
    stats = serializers.SerializerMethodField()
    test_log_likelihood = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
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

    def get_url(self, model_version: ModelVersion) -> str:
        return _url("api:model-version-detail", model_version.pk, self.context)

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

    def get_download_url(self, model_version: ModelVersion) -> str:
        return _url("api:model-version-download", model_version.pk, self.context)


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = (*ModelVersionSerializer.Meta.fields, "metrics")
        read_only_fields = fields
