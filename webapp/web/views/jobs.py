"""The training form and the job pages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.jobs import limits, services
from webapp.jobs.models import Job, ModelVersion
from webapp.jobs.serializers import JobSerializer, TrainingRunSerializer
from webapp.sweeps import services as sweeps
from webapp.sweeps.models import Sweep
from webapp.sweeps.serializers import SweepCreateSerializer
from webapp.web import training_options
from webapp.web.forms import (
    SETTING_FIELDS,
    SETTING_WORDING,
    SINGLE_RUN,
    SWEEP,
    SweepValuesForm,
    TrainingRunForm,
    add_serializer_errors,
)
from webapp.web.views.shared import (
    PHASE_LABELS,
    QUEUED_TAG,
    confirm_delete,
    refused_response,
    rename_from_post,
    request_user,
    settings_rows,
    visible_model_versions,
)


def _validate_training(
    form: TrainingRunForm, body: dict[str, Any]
) -> dict[str, Any] | None:
    """Run the API's serializer; on failure, put every field's error on the form,
    naming the settings by the form's labels."""
    serializer = TrainingRunSerializer(
        data=body, context={"setting_wording": SETTING_WORDING}
    )
    if serializer.is_valid():
        return dict(serializer.validated_data)
    add_serializer_errors(form, serializer.errors, form.field_for_error)
    return None


def _queue_sweep(
    request: HttpRequest,
    form: TrainingRunForm,
    sweep_form: SweepValuesForm,
    body: dict[str, Any],
) -> Sweep | None:
    """The sweep mode: the form's settings as the base, the ticked values as the
    grid, checked by the API's serializer; None with the errors on the forms.

    Raises `limits.JobRefused` when the owner's storage is full.
    """
    grid = sweep_form.grid()
    if form.errors or sweep_form.errors:
        return None
    name = body.pop("name", "")
    serializer = SweepCreateSerializer(
        data={"name": name, "base": body, "grid": grid},
        context={"setting_wording": SETTING_WORDING},
    )
    if not serializer.is_valid():
        errors = serializer.errors
        add_serializer_errors(form, errors.get("base", {}), form.field_for_error)
        add_serializer_errors(form, {"name": errors.get("name", [])})
        grid_errors = errors.get("grid", {})
        if not isinstance(grid_errors, dict):  # too many combinations
            grid_errors = {"": grid_errors}
        add_serializer_errors(sweep_form, grid_errors, sweep_form.field_for_error)
        return None
    validated = serializer.validated_data
    sweep = sweeps.create_sweep(request_user(request), **validated)
    runs = len(validated["runs"])
    messages.success(request, f"Parameter sweep “{sweep.name}” queued: {runs} runs.")
    return sweep


def _prefill(request: HttpRequest) -> tuple[dict[str, Any], str, str] | None:
    """Settings, name and a note for a form opened from a job or a model version.

    ``?job=<id>``: a finished training job's settings ("Run again").
    ``?model=<id>&grid=wider``: a model version's, with the grid reaching beyond
    the edge its bandwidth sat on.
    """
    user = request_user(request)
    if "job" in request.GET:
        try:
            job_id = UUID(request.GET["job"])
        except ValueError:
            job_id = None
        job = get_object_or_404(
            Job.objects.for_owner(user).filter(kind=Job.Kind.TRAINING), pk=job_id
        )
        return job.params, job.name, f"The settings of “{job.name}”, to run again."
    if "model" in request.GET:
        model_version = get_object_or_404(
            visible_model_versions(user), pk=_int_or_none(request.GET["model"])
        )
        settings = dict(model_version.settings)
        advice = services.wider_grid(settings, model_version.metrics)
        if request.GET.get("grid") == "wider" and advice is not None:
            settings["bandwidth_grid"] = advice.grid
            note = (
                f"The settings of {model_version}, with a wider bandwidth grid: "
                f"{advice.grid['num']} values from {advice.grid['start']:g} to "
                f"{advice.grid['stop']:g}."
            )
        else:
            note = f"The settings of {model_version}."
        return settings, model_version.name, note
    return None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdecimal() and len(text) < 19 else None


@login_required
@require_http_methods(["GET", "POST"])
def training_new(request: HttpRequest) -> HttpResponse:
    """The training form: presets fill it, the API's validation checks it."""
    presets = training_options.presets()
    by_name = {preset.name: preset for preset in presets}
    note = None
    refusal: limits.JobRefused | None = None
    if request.method == "POST":
        form = TrainingRunForm(request.POST)
        sweep_form = SweepValuesForm(request.POST)
        if form.is_valid():
            body = form.api_data()
            preset = body.get("preset")
            if preset is not None and preset not in by_name:
                body.pop("preset")
            if sweep_form.is_sweep:
                try:
                    sweep = _queue_sweep(request, form, sweep_form, body)
                except limits.JobRefused as error:
                    refusal = error
                    form.add_error(None, str(refusal))
                else:
                    if sweep is not None:
                        return redirect("web:sweep", pk=sweep.pk)
            else:
                validated = _validate_training(form, body)
                if validated is not None and not form.errors:
                    try:
                        job = services.create_training_job(
                            request_user(request),
                            training_settings=validated["settings"],
                            name=validated["name"],
                        )
                    except limits.JobRefused as error:
                        refusal = error
                        form.add_error(None, str(refusal))
                    else:
                        messages.success(
                            request,
                            f"Training run “{job.name}” queued.",
                            extra_tags=QUEUED_TAG,
                        )
                        return redirect("web:job", pk=job.pk)
        status = 400
        chosen = str(form.data.get("preset") or "")
    else:
        prefill = _prefill(request)
        if prefill is not None:
            settings, name, note = prefill
            chosen = ""
            initial = TrainingRunForm.initial_from_settings(
                settings, preset="", name=name
            )
        else:
            chosen = request.GET.get("preset", "notebook")
            if chosen not in by_name:
                chosen = presets[0].name
            initial = TrainingRunForm.initial_from_settings(
                by_name[chosen].settings, preset=chosen
            )
        form = TrainingRunForm(initial=initial)
        sweep_form = SweepValuesForm(
            initial={"mode": SWEEP if request.GET.get("mode") == SWEEP else SINGLE_RUN}
        )
        status = 200
    preset_values = {
        preset.name: TrainingRunForm.initial_from_settings(
            preset.settings, preset=preset.name
        )
        for preset in presets
    }
    response = render(
        request,
        "web/training_new.html",
        {
            "form": form,
            "sweep_form": sweep_form,
            "max_sweep_combinations": django_settings.MAX_SWEEP_COMBINATIONS,
            "presets": presets,
            "chosen_preset": chosen,
            "preset_values": preset_values,
            "setting_fields": SETTING_FIELDS,
            "dataset_sizes": {
                facts.name: facts.n_train for facts in training_options.dataset_facts()
            },
            "prefill_note": note,
        },
        status=status,
    )
    return response if refusal is None else refused_response(response, refusal)


def _job_json(job: Job, request: HttpRequest) -> dict[str, Any]:
    return dict(JobSerializer(job, context={"request": request}).data)


def _own_job(request: HttpRequest, pk: UUID) -> Job:
    return get_object_or_404(
        Job.objects.for_owner(request_user(request)).with_results(), pk=pk
    )


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    """A job's live state: the page polls ``GET /api/v1/jobs/{id}``."""
    user = request_user(request)
    job = _own_job(request, pk)
    data = _job_json(job, request)
    source_model = None
    result_model = None
    if job.kind == Job.Kind.GENERATION:
        source_model = (
            ModelVersion.objects.visible_to(user)
            .without_file()
            .filter(pk=job.params.get("model_version"))
            .first()
        )
    elif job.result_model_version_id is not None:  # type: ignore[attr-defined]
        result_model = (
            ModelVersion.objects.without_file()
            .filter(pk=job.result_model_version_id)  # type: ignore[attr-defined]
            .first()
        )
    return render(
        request,
        "web/job.html",
        {
            "job": job,
            "job_json": data,
            "phase_labels": PHASE_LABELS,
            "settings_rows": settings_rows(job.params)
            if job.kind == Job.Kind.TRAINING
            else [],
            "source_model": source_model,
            "result_model": result_model,
            "grid_advice": services.wider_grid(
                result_model.settings, result_model.metrics
            )
            if result_model is not None
            else None,
            "api_url": reverse("api:job-detail", kwargs={"pk": job.pk}),
            "cancel_api_url": reverse("api:job-cancel", kwargs={"pk": job.pk}),
        },
    )


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The no-JavaScript cancel button: the same service as the API's cancel."""
    job = get_object_or_404(Job.objects.for_owner(request_user(request)), pk=pk)
    try:
        job = services.cancel_job(job)
    except services.JobConflict as conflict:
        messages.error(request, str(conflict))
    else:
        if job.state == Job.State.CANCELLED:
            messages.info(request, "The job was cancelled before it started.")
        else:
            messages.info(request, "Cancelling: the job stops at its next step.")
    return redirect("web:job", pk=pk)


@login_required
@require_POST
def job_rename(request: HttpRequest, pk: UUID) -> HttpResponse:
    rename_from_post(request, _own_job(request, pk), "Job")
    return redirect("web:job", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def job_delete(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Ask, then delete a finished job as ``DELETE /api/v1/jobs/{id}`` does."""
    job = _own_job(request, pk)
    if not job.is_finished:
        messages.error(request, f"The job is still {job.state}: cancel it first.")
        return redirect("web:job", pk=pk)
    if request.method == "POST":
        services.delete_job(job)
        messages.success(request, f"Job “{job.name}” deleted.")
        return redirect(f"{reverse('web:history')}?kind={job.kind}")
    if job.result_model_version_id is not None:  # type: ignore[attr-defined]
        consequences = ["The model version it trained stays."]
    elif job.result_gallery_id is not None:  # type: ignore[attr-defined]
        consequences = ["The gallery it generated stays, with its images."]
    else:
        consequences = []
    return confirm_delete(
        request,
        what=f"the {job.get_kind_display().lower()} job “{job.name}”",
        consequences=consequences,
        back_url=reverse("web:job", kwargs={"pk": pk}),
    )
