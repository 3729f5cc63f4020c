"""A model version's page: figures, samples, generating a gallery, the default."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.gallery.models import Gallery
from webapp.jobs import limits, services, serving
from webapp.jobs.models import ModelVersion
from webapp.jobs.serializers import GenerationSerializer
from webapp.web import charts
from webapp.web.forms import GenerationForm, add_serializer_errors
from webapp.web.views.share_links import share_links_context
from webapp.web.views.shared import (
    PHASE_ORDER,
    QUEUED_TAG,
    SAMPLE_COUNT,
    confirm_delete,
    refused_response,
    rename_from_post,
    request_user,
    sample_images,
    samples_response,
    settings_rows,
    visible_model_versions,
)


def model_context(
    model_version: ModelVersion, *, share_token: str | None = None
) -> dict[str, Any]:
    """The model page's figures, samples and download; with ``share_token``, as
    its share page (the download through the token)."""
    metrics = model_version.metrics or {}
    labelled = [charts.Labelled(str(model_version), metrics)]
    images, sample_error = sample_images(model_version, SAMPLE_COUNT)
    # JSON objects come back from PostgreSQL in key-length order: restore the
    # order the phases ran in.
    recorded = metrics.get("seconds") or {}
    seconds = {
        phase: recorded[phase]
        for phase in sorted(recorded, key=lambda p: (PHASE_ORDER.get(p, 99), p))
    }
    total_seconds = sum(v for v in seconds.values() if isinstance(v, int | float))
    if share_token is None:
        download_url = reverse(
            "api:model-version-download", kwargs={"pk": model_version.pk}
        )
        samples_url = reverse("web:model-samples", kwargs={"pk": model_version.pk})
    else:
        download_url = reverse("web:share-model-file", kwargs={"token": share_token})
        samples_url = reverse("web:share-samples", kwargs={"token": share_token})
    return {
        "model_version": model_version,
        "shared": share_token is not None,
        "stats": model_version.stats(),
        "metrics": metrics,
        "settings_rows": settings_rows(model_version.settings),
        "grid_advice": services.wider_grid(model_version.settings, metrics),
        "variance_chart": charts.variance_chart(labelled),
        "cv_chart": charts.cv_chart(labelled) if charts.has_cv_curve(metrics) else None,
        "cv_rows": charts.cv_table(metrics),
        "cv_gaps": charts.cv_gaps(metrics),
        "seconds": seconds,
        "total_seconds": total_seconds,
        "images": images,
        "sample_error": sample_error,
        "download_url": download_url,
        "samples_url": samples_url,
    }


def _model_context(
    request: HttpRequest, model_version: ModelVersion, form: GenerationForm
) -> dict[str, Any]:
    user = request_user(request)
    is_owner = model_version.owner_id == user.pk
    context = model_context(model_version)
    context.update(
        is_owner=is_owner,
        is_default=is_owner and model_version.is_default,
        form=form,
        galleries=Gallery.objects.for_owner(user).filter(model_version=model_version)[
            :6
        ],
    )
    if is_owner:
        context.update(share_links_context(request, model_version=model_version))
    return context


# What the form sends on to the API's generation serializer.
GENERATION_FIELDS = (
    "mode",
    "n_images",
    "digit",
    "seed",
    "temperature",
    "from_digit",
    "to_digit",
    "from_image",
    "to_image",
)


def _generation_form(
    model_version: ModelVersion, data: QueryDict | None = None
) -> GenerationForm:
    digits = None
    if model_version.is_class_conditional:
        digits = list(model_version.metrics.get("classes") or range(10))
    return GenerationForm(
        data,
        digits=digits,
        initial={"temperature": f"{model_version.default_temperature:g}"},
    )


@login_required
@require_GET
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model_version = get_object_or_404(
        visible_model_versions(request_user(request)), pk=pk
    )
    form = _generation_form(model_version)
    return render(
        request, "web/model.html", _model_context(request, model_version, form)
    )


@login_required
@require_POST
def model_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a gallery from this model through the API's generation serializer."""
    model_version = get_object_or_404(
        visible_model_versions(request_user(request)), pk=pk
    )
    form = _generation_form(model_version, request.POST)
    if form.is_valid():
        data = QueryDict(mutable=True)
        data["model_version"] = str(model_version.pk)
        for field in GENERATION_FIELDS:
            if form.cleaned_data.get(field):
                data[field] = str(form.cleaned_data[field])
        serializer = GenerationSerializer(data=data, context={"request": request})
        if serializer.is_valid():
            try:
                job = services.create_generation_job(
                    request_user(request), **serializer.validated_data
                )
            except limits.JobRefused as refusal:
                form.add_error(None, str(refusal))
                return refused_response(
                    render(
                        request,
                        "web/model.html",
                        _model_context(request, model_version, form),
                    ),
                    refusal,
                )
            messages.success(request, "Generation queued.", extra_tags=QUEUED_TAG)
            return redirect("web:job", pk=job.pk)
        add_serializer_errors(form, serializer.errors)
    return render(
        request,
        "web/model.html",
        _model_context(request, model_version, form),
        status=400,
    )


@login_required
@require_POST
def model_set_default(request: HttpRequest, pk: int) -> HttpResponse:
    model_version = get_object_or_404(
        ModelVersion.objects.for_owner(request_user(request)).without_file(),
        pk=pk,
    )
    serving.set_default_model_version(model_version)
    messages.success(
        request,
        f"{model_version} is now your default model: /generate and new "
        "generations use it unless told otherwise.",
    )
    return redirect("web:model", pk=pk)


@login_required
@require_GET
def model_samples(request: HttpRequest, pk: int) -> HttpResponse:
    """Fresh samples for the model page's "Draw new ones", as the list's items."""
    model_version = get_object_or_404(
        visible_model_versions(request_user(request)), pk=pk
    )
    return samples_response(request, model_version)


def _own_model_version(request: HttpRequest, pk: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.for_owner(request_user(request)).without_file(), pk=pk
    )


@login_required
@require_POST
def model_rename(request: HttpRequest, pk: int) -> HttpResponse:
    rename_from_post(request, _own_model_version(request, pk), "Model version")
    return redirect("web:model", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def model_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete as ``DELETE /api/v1/model-versions/{id}`` does."""
    model_version = _own_model_version(request, pk)
    user = request_user(request)
    if request.method == "POST":
        default = serving.delete_model_version(model_version)
        said = f"{model_version} deleted."
        if model_version.is_default:
            said += (
                f" {default} is now your default model."
                if default is not None
                else " You have no default model now."
            )
        messages.success(request, said)
        return redirect(f"{reverse('web:history')}?tab=models")
    n_galleries = (
        Gallery.objects.for_owner(user).filter(model_version=model_version).count()
    )
    consequences = [
        f"Its {n_galleries} galler{'y' if n_galleries == 1 else 'ies'} "
        "stay, with their images, but no longer link to a model version."
        if n_galleries
        else "No gallery was made from it."
    ]
    if model_version.is_default:
        successor = serving.default_after_deleting(model_version)
        consequences.append(
            f"It is your default model: your newest other one, {successor}, "
            "becomes the default."
            if successor is not None
            else "It is your default model, and your only one: you will have no "
            "default until you train another."
        )
    if model_version.is_public:
        consequences.append(
            "It is the public demo model: the landing page shows no samples "
            "until another is published."
        )
    return confirm_delete(
        request,
        what=f"the model version {model_version}",
        consequences=consequences,
        back_url=reverse("web:model", kwargs={"pk": pk}),
    )
