"""The training form and the job pages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.jobs import limits, services
from webapp.jobs.models import Job, ModelVersion
from webapp.jobs.serializers import JobSerializer, TrainingRunSerializer
from webapp.web import training_options
from webapp.web.forms import SETTING_FIELDS, TrainingRunForm, add_serializer_errors
from webapp.web.views.shared import (
    PHASE_LABELS,
    refused_response,
    request_user,
    settings_rows,
)


def _validate_training(
    form: TrainingRunForm, body: dict[str, Any]
) -> dict[str, Any] | None:
    """Run the API's serializer; on failure, put every field's error on the form."""
    serializer = TrainingRunSerializer(data=body)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    add_serializer_errors(form, serializer.errors, form.field_for_error)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def training_new(request: HttpRequest) -> HttpResponse:
    """The training form: presets fill it, the API's validation checks it."""
    presets = training_options.presets()
    by_name = {preset.name: preset for preset in presets}
    refusal: limits.JobRefused | None = None
    if request.method == "POST":
        form = TrainingRunForm(request.POST)
        if form.is_valid():
            body = form.api_data()
            preset = body.get("preset")
            if preset is not None and preset not in by_name:
                body.pop("preset")
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
                    messages.success(request, f"Training run “{job.name}” queued.")
                    return redirect("web:job", pk=job.pk)
        status = 400
        chosen = str(form.data.get("preset") or "")
    else:
        chosen = request.GET.get("preset", "notebook")
        if chosen not in by_name:
            chosen = presets[0].name
        form = TrainingRunForm(
            initial=TrainingRunForm.initial_from_settings(
                by_name[chosen].settings, preset=chosen
            )
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
            "presets": presets,
            "chosen_preset": chosen,
            "preset_values": preset_values,
            "setting_fields": SETTING_FIELDS,
        },
        status=status,
    )
    return response if refusal is None else refused_response(response, refusal)


def _job_json(job: Job, request: HttpRequest) -> dict[str, Any]:
    return dict(JobSerializer(job, context={"request": request}).data)


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    """A job's live state: the page polls ``GET /api/v1/jobs/{id}``."""
    user = request_user(request)
    job = get_object_or_404(Job.objects.for_owner(user).with_results(), pk=pk)
    data = _job_json(job, request)
    model_version = None
    if job.kind == Job.Kind.GENERATION:
        model_version = (
            ModelVersion.objects.visible_to(user)
            .without_file()
            .filter(pk=job.params.get("model_version"))
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
            "source_model": model_version,
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
