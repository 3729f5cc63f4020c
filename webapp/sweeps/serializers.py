from __future__ import annotations

import itertools
import json
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webapp.jobs import services as job_services
from webapp.jobs.serializers import TrainingRunSerializer
from webapp.sweeps import services as sweep_services
from webapp.sweeps.models import Sweep, SweepRun


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _distinct(values: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(_key(value), value)
    return list(seen.values())


class SweepCreateSerializer(serializers.Serializer[Any]):
    """A name, a base training run and a grid; validated into the distinct runs.

    Every combination is checked by `TrainingRunSerializer`, and every bad field of
    any of them is reported at once: under ``base`` for a base setting, under
    ``grid`` (naming the value) for a value of the grid.
    """

    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    base = serializers.DictField(
        required=False,
        help_text="A training run's fields (preset included) shared by every run.",
    )
    grid = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(), allow_empty=False),
        allow_empty=False,
        help_text='Setting -> values to try, e.g. {"kernel": ["gaussian", "tophat"]}.',
    )

    def validate_grid(self, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        unknown = sorted(set(grid) - set(job_services.SETTING_NAMES))
        if unknown:
            raise serializers.ValidationError(
                {key: ["Not a training setting a sweep can vary."] for key in unknown}
            )
        grid = {key: _distinct(values) for key, values in grid.items()}
        count = 1
        for values in grid.values():
            count *= len(values)
        limit = int(settings.MAX_SWEEP_COMBINATIONS)
        if count > limit:
            raise serializers.ValidationError(
                f"The grid makes {count} combinations; a sweep runs at most {limit}.",
                code="too_many_combinations",
            )
        return grid

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {
            key: value for key, value in attrs.get("base", {}).items() if key != "name"
        }
        grid: dict[str, list[Any]] = attrs["grid"]
        base_errors: dict[str, list[str]] = {}
        grid_errors: dict[str, list[str]] = {}
        runs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for combination in itertools.product(*grid.values()):
            values = dict(zip(grid, combination, strict=True))
            run = TrainingRunSerializer(data={**base, **values}, context=self.context)
            if run.is_valid():
                training_settings = run.validated_data["settings"]
                # Values that differ as given but not once validated (a preset's
                # own value spelled out) are the same run.
                runs.setdefault(_key(training_settings), (values, training_settings))
                continue
            for field, messages in run.errors.items():
                for message in messages:
                    if field in values:
                        text = f"{_key(values[field])}: {message}"
                        target = grid_errors.setdefault(field, [])
                    else:
                        text, target = str(message), base_errors.setdefault(field, [])
                    if text not in target:
                        target.append(text)
        errors: dict[str, Any] = {}
        if base_errors:
            errors["base"] = base_errors
        if grid_errors:
            errors["grid"] = grid_errors
        if errors:
            raise serializers.ValidationError(errors)
        preset = base.get("preset")
        name = attrs.get("name", "").strip() or f"{preset or 'custom'} sweep"
        return {"name": name, "base": base, "grid": grid, "runs": list(runs.values())}


class SweepRunSerializer(serializers.ModelSerializer[SweepRun]):
    job = serializers.UUIDField(source="job_id", read_only=True)
    state = serializers.CharField(source="job.state", read_only=True)
    model_version = serializers.SerializerMethodField()
    test_log_likelihood = serializers.SerializerMethodField()
    sample_confidence = serializers.SerializerMethodField(
        help_text="The digit classifier's mean confidence on the newest evaluated "
        "gallery of the run's model (independent samples, no digit asked); null "
        "until it has one."
    )
    sample_gallery = serializers.SerializerMethodField(
        help_text="The id of the gallery sample_confidence comes from, or null."
    )

    class Meta:
        model = SweepRun
        fields: tuple[str, ...] = (
            "position",
            "job",
            "values",
            "state",
            "model_version",
            "test_log_likelihood",
            "sample_confidence",
            "sample_gallery",
        )
        read_only_fields = fields

    def get_model_version(self, run: SweepRun) -> int | None:
        model_version = getattr(run.job, "model_version", None)
        return model_version.pk if model_version is not None else None

    def get_sample_confidence(self, run: SweepRun) -> float | None:
        # Annotated by Sweep.objects.with_runs(); a sweep just made has no model.
        confidence: float | None = getattr(run, "sample_confidence", None)
        return confidence

    def get_sample_gallery(self, run: SweepRun) -> int | None:
        gallery: int | None = getattr(run, "sample_gallery", None)
        return gallery

    def get_test_log_likelihood(self, run: SweepRun) -> float | None:
        model_version = getattr(run.job, "model_version", None)
        if model_version is None:
            return None
        value = model_version.metrics.get("test_log_likelihood")
        return float(value) if value is not None else None


class SweepSerializer(serializers.ModelSerializer[Sweep]):
    url = serializers.HyperlinkedIdentityField(view_name="api:sweep-detail")
    state = serializers.ChoiceField(choices=Sweep.State.choices, read_only=True)
    total = serializers.IntegerField(read_only=True, help_text="Runs in the sweep.")
    finished = serializers.IntegerField(
        read_only=True, help_text="Runs that have ended, however."
    )
    succeeded = serializers.IntegerField(read_only=True)
    cancel_requested = serializers.SerializerMethodField()
    jobs = serializers.SerializerMethodField(
        help_text="The training job of every run, in the grid's order."
    )
    runs = SweepRunSerializer(many=True, read_only=True)

    class Meta:
        model = Sweep
        fields: tuple[str, ...] = (
            "id",
            "url",
            "name",
            "state",
            "total",
            "finished",
            "succeeded",
            "cancel_requested",
            "base",
            "grid",
            "jobs",
            "runs",
            "created_at",
        )
        read_only_fields = fields

    def get_cancel_requested(self, sweep: Sweep) -> bool:
        return sweep.cancelled_at is not None

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_jobs(self, sweep: Sweep) -> list[str]:
        return [str(run.job_id) for run in sweep.runs.all()]


class SweepSamplingSerializer(serializers.Serializer[Any]):
    """What ``POST /api/v1/sweeps/{id}/sample`` queued (a `services.Sampling`)."""

    jobs = serializers.SerializerMethodField(
        help_text="The generation jobs queued, one per run's model, in run order."
    )
    images_per_run = serializers.SerializerMethodField()
    on_the_way = serializers.IntegerField(
        help_text="Runs whose sample was queued or being evaluated already."
    )
    refused = serializers.SerializerMethodField(
        help_text="Why the other runs were not sampled now (your active-job limit "
        "or storage quota), or null."
    )

    def get_jobs(self, sampling: sweep_services.Sampling) -> list[str]:
        return [str(job.pk) for job in sampling.jobs]

    def get_images_per_run(self, sampling: sweep_services.Sampling) -> int:
        return sweep_services.SAMPLE_IMAGES

    def get_refused(self, sampling: sweep_services.Sampling) -> str | None:
        return None if sampling.refused is None else str(sampling.refused)
