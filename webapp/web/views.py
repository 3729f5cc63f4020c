"""The browser pages.

Every page reads the same rows as the REST API, scoped the same way (a user sees
their own jobs, model versions and galleries, plus the public demo model), and
every change goes through the API's serializers and the apps' services, so a page
accepts and refuses exactly what the API does.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Model,
    Q,
    QuerySet,
    When,
)
from django.db.models.expressions import OrderBy
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.accounts import services as account_services
from webapp.accounts.serializers import RegisterSerializer
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import services as job_services
from webapp.jobs.models import Job, ModelVersion
from webapp.jobs.serializers import (
    GenerationSerializer,
    JobSerializer,
    TrainingRunSerializer,
)
from webapp.web import charts, services
from webapp.web.forms import (
    SETTING_FIELDS,
    GenerationForm,
    SignUpForm,
    TrainingRunForm,
    add_serializer_errors,
)

LOGIN_URL = reverse_lazy("web:login")
PAGE_SIZE = 20
SAMPLE_COUNT = 16
COMPARE_MIN, COMPARE_MAX = 2, 4
LANDING_DEFAULT_SAMPLES = 8

# Words for the job phases the services write, shown on the job page.
PHASE_LABELS = {
    "": "Waiting",
    "starting": "Starting",
    "loading": "Loading the data set",
    "pca": "Fitting PCA",
    "search": "Searching for the bandwidth",
    "fitting": "Fitting the density",
    "evaluating": "Evaluating",
    "sampling": "Drawing images",
    "saving": "Saving the result",
    "done": "Done",
    "cancelled": "Cancelled",
    "requeued": "Back in the queue",
}

_PHASE_ORDER = {phase: index for index, phase in enumerate(PHASE_LABELS)}

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
    "seed": "Seed",
}

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def _login_required(view: _View) -> _View:
    return login_required(view, login_url=LOGIN_URL)


def _user(request: HttpRequest) -> AbstractBaseUser:
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


def _png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _samples(model_version: ModelVersion, count: int) -> tuple[list[str], str | None]:
    """``count`` fresh samples as data URLs, or the reason there are none."""
    try:
        pngs = job_services.sample_pngs(model_version, count)
    except job_services.ModelUnavailable as error:
        return [], str(error)
    return [_png_data_url(png) for png in pngs], None


def _jobs(user: AbstractBaseUser) -> QuerySet[Job]:
    """The user's jobs with their result ids, as the API's job list reads them."""
    return Job.objects.filter(owner_id=user.pk).annotate(
        result_model_version_id=F("model_version__id"),
        result_gallery_id=F("gallery__id"),
    )


def _job_json(job: Job, request: HttpRequest) -> dict[str, Any]:
    return dict(JobSerializer(job, context={"request": request}).data)


def _settings_rows(settings: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(key, label, value) for each known setting, in form order."""
    return [
        (key, label, settings.get(key))
        for key, label in SETTING_LABELS.items()
        if key in settings
    ]


def _demo_job() -> Job | None:
    """The public demo model's training, while it is still on its way."""
    return (
        Job.objects.filter(
            kind=Job.Kind.TRAINING,
            publish_model=True,
            state__in=[Job.State.QUEUED, Job.State.RUNNING],
        )
        .order_by("created_at")
        .first()
    )


# --- Landing and accounts -------------------------------------------------------------


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """What the product does, with live samples from the public demo model."""
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    model_version = job_services.serving_model_version(AnonymousUser())
    count = _int_param(request.GET, "n", LANDING_DEFAULT_SAMPLES, 1, 16)
    images: list[str] = []
    error = None
    if model_version is not None:
        images, error = _samples(model_version, count)
    return render(
        request,
        "web/landing.html",
        {
            "model_version": model_version,
            "images": images,
            "error": error,
            "count": count,
            "counts": range(1, 17),
            "demo_job": _demo_job() if model_version is None else None,
        },
    )


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account with the API's registration rules, then log in."""
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            serializer = RegisterSerializer(
                data={
                    "username": form.cleaned_data["username"],
                    "password": form.cleaned_data["password"],
                }
            )
            if serializer.is_valid():
                user, _ = account_services.register_user(
                    serializer.validated_data["username"],
                    serializer.validated_data["password"],
                )
                assert isinstance(user, get_user_model())
                login(
                    request,
                    user,
                    backend="django.contrib.auth.backends.ModelBackend",
                )
                messages.success(
                    request,
                    f"Welcome, {user.get_username()}! Start with a fast preview "
                    "training run below.",
                )
                return redirect(f"{reverse('web:training-new')}?preset=preview")
            add_serializer_errors(form, serializer.errors)
        status = 400
    return render(
        request, "web/registration/signup.html", {"form": form}, status=status
    )


class LoginView(auth_views.LoginView):
    template_name = "web/registration/login.html"
    redirect_authenticated_user = True
    next_page = "web:dashboard"


class LogoutView(auth_views.LogoutView):
    next_page = "web:landing"


@_login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Django's password change, keeping the user logged in."""
    user = _user(request)
    form = PasswordChangeForm(user, request.POST or None)  # type: ignore[arg-type]
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            update_session_auth_hash(request, user)
            messages.success(request, "Your password has been changed.")
            return redirect("web:dashboard")
        return render(
            request, "web/registration/password_change.html", {"form": form}, status=400
        )
    return render(request, "web/registration/password_change.html", {"form": form})


@_login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Show the user's REST API token; POST replaces it."""
    user = _user(request)
    if request.method == "POST":
        account_services.rotate_api_token(user)
        messages.success(
            request, "A new token was created; the old one no longer works."
        )
        return redirect("web:token")
    token = account_services.api_token(user)
    return render(
        request,
        "web/registration/token.html",
        {
            "token": token,
            "api_root": request.build_absolute_uri("/api/v1/"),
            "docs_url": "/api/docs/",
        },
    )


# --- Dashboard ------------------------------------------------------------------------


@_login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    jobs = Job.objects.filter(owner_id=user.pk)
    counts = jobs.aggregate(
        queued=Count("pk", filter=Q(state=Job.State.QUEUED)),
        running=Count("pk", filter=Q(state=Job.State.RUNNING)),
        total=Count("pk"),
    )
    default_model = job_services.default_model_version(user)
    n_models = ModelVersion.objects.filter(owner_id=user.pk).count()
    recent_galleries = (
        Gallery.objects.filter(owner_id=user.pk)
        .select_related("model_version")
        .defer("model_version__model_file")[:4]
    )
    demo_model = None
    quick_count = _int_param(request.GET, "n", 8, 1, 16)
    quick_samples: list[str] = []
    if default_model is None:
        demo_model = job_services.serving_model_version(AnonymousUser())
    else:
        quick_samples, _ = _samples(default_model, quick_count)
    return render(
        request,
        "web/dashboard.html",
        {
            "counts": counts,
            "recent_jobs": _jobs(user)[:8],
            "default_model": default_model,
            "n_models": n_models,
            "n_galleries": Gallery.objects.filter(owner_id=user.pk).count(),
            "recent_galleries": recent_galleries,
            "demo_model": demo_model,
            "quick_samples": quick_samples,
            "quick_count": quick_count,
            "counts_choices": range(1, 17),
            "phase_labels": PHASE_LABELS,
        },
    )


# --- Training -------------------------------------------------------------------------


def _validate_training(
    form: TrainingRunForm, body: dict[str, Any]
) -> dict[str, Any] | None:
    """Run the API's serializer; on failure, put every field's error on the form."""
    serializer = TrainingRunSerializer(data=body)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    add_serializer_errors(form, serializer.errors, form.field_for_error)
    return None


@_login_required
@require_http_methods(["GET", "POST"])
def training_new(request: HttpRequest) -> HttpResponse:
    """The training form: presets fill it, the API's validation checks it."""
    presets = services.presets()
    by_name = {preset.name: preset for preset in presets}
    if request.method == "POST":
        form = TrainingRunForm(request.POST)
        if form.is_valid():
            body = form.api_data()
            preset = body.get("preset")
            if preset is not None and preset not in by_name:
                body.pop("preset")
            validated = _validate_training(form, body)
            if validated is not None and not form.errors:
                job = job_services.create_training_job(
                    _user(request),
                    training_settings=validated["settings"],
                    name=validated["name"],
                )
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
    return render(
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


# --- Jobs -----------------------------------------------------------------------------


@_login_required
@require_GET
def job_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    """A job's live state: the page polls ``GET /api/v1/jobs/{id}``."""
    job = get_object_or_404(_jobs(_user(request)), pk=pk)
    data = _job_json(job, request)
    model_version = None
    if job.kind == Job.Kind.GENERATION:
        model_version = (
            job_services.visible_model_versions(_user(request))
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
            "settings_rows": _settings_rows(job.params)
            if job.kind == Job.Kind.TRAINING
            else [],
            "source_model": model_version,
            "api_url": reverse("api:job-detail", kwargs={"pk": job.pk}),
            "cancel_api_url": reverse("api:job-cancel", kwargs={"pk": job.pk}),
        },
    )


@_login_required
@require_POST
def job_cancel(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The no-JavaScript cancel button: the same service as the API's cancel."""
    job = get_object_or_404(Job.objects.filter(owner_id=_user(request).pk), pk=pk)
    try:
        job = job_services.cancel_job(job)
    except job_services.JobConflict as conflict:
        messages.error(request, str(conflict))
    else:
        if job.state == Job.State.CANCELLED:
            messages.info(request, "The job was cancelled before it started.")
        else:
            messages.info(request, "Cancelling: the job stops at its next step.")
    return redirect("web:job", pk=pk)


# --- Model versions -------------------------------------------------------------------


def _visible_models(user: AbstractBaseUser) -> QuerySet[ModelVersion]:
    return job_services.visible_model_versions(user).select_related("owner")


def _model_context(
    request: HttpRequest, model_version: ModelVersion, form: GenerationForm
) -> dict[str, Any]:
    user = _user(request)
    metrics = model_version.metrics or {}
    labelled = [charts.Labelled(str(model_version), metrics)]
    images, sample_error = _samples(model_version, SAMPLE_COUNT)
    # JSON objects come back from PostgreSQL in key-length order: restore the
    # order the phases ran in.
    recorded = metrics.get("seconds") or {}
    seconds = {
        phase: recorded[phase]
        for phase in sorted(recorded, key=lambda p: (_PHASE_ORDER.get(p, 99), p))
    }
    total_seconds = sum(v for v in seconds.values() if isinstance(v, int | float))
    is_owner = model_version.owner_id == user.pk
    return {
        "model_version": model_version,
        "is_owner": is_owner,
        "is_default": is_owner and model_version.is_default,
        "stats": model_version.stats(),
        "metrics": metrics,
        "settings_rows": _settings_rows(model_version.settings),
        "variance_chart": charts.variance_chart(labelled),
        "cv_chart": charts.cv_chart(labelled) if charts.has_cv_curve(metrics) else None,
        "cv_rows": charts.cv_table(metrics),
        "cv_gaps": charts.cv_gaps(metrics),
        "seconds": seconds,
        "total_seconds": total_seconds,
        "images": images,
        "sample_error": sample_error,
        "form": form,
        "galleries": Gallery.objects.filter(
            owner_id=user.pk, model_version=model_version
        )[:6],
        "download_url": reverse(
            "api:model-version-download", kwargs={"pk": model_version.pk}
        ),
    }


def _generation_form(
    model_version: ModelVersion, data: QueryDict | None = None
) -> GenerationForm:
    digits = None
    if model_version.is_class_conditional:
        digits = list(model_version.metrics.get("classes") or range(10))
    return GenerationForm(data, digits=digits)


@_login_required
@require_GET
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model_version = get_object_or_404(_visible_models(_user(request)), pk=pk)
    form = _generation_form(model_version)
    return render(
        request, "web/model.html", _model_context(request, model_version, form)
    )


@_login_required
@require_POST
def model_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a gallery from this model through the API's generation serializer."""
    model_version = get_object_or_404(_visible_models(_user(request)), pk=pk)
    form = _generation_form(model_version, request.POST)
    if form.is_valid():
        data = QueryDict(mutable=True)
        data["model_version"] = str(model_version.pk)
        for field in ("n_images", "digit", "seed", "temperature"):
            if field in form.fields:
                data[field] = str(form.cleaned_data.get(field) or "")
        serializer = GenerationSerializer(data=data, context={"request": request})
        if serializer.is_valid():
            job = job_services.create_generation_job(
                _user(request), **serializer.validated_data
            )
            messages.success(request, "Generation queued.")
            return redirect("web:job", pk=job.pk)
        add_serializer_errors(form, serializer.errors)
    return render(
        request,
        "web/model.html",
        _model_context(request, model_version, form),
        status=400,
    )


@_login_required
@require_POST
def model_set_default(request: HttpRequest, pk: int) -> HttpResponse:
    model_version = get_object_or_404(
        ModelVersion.objects.filter(owner_id=_user(request).pk).defer("model_file"),
        pk=pk,
    )
    job_services.set_default_model_version(model_version)
    messages.success(
        request,
        f"{model_version} is now your default model: /generate and new "
        "generations use it unless told otherwise.",
    )
    return redirect("web:model", pk=pk)


# --- Galleries ------------------------------------------------------------------------


@_login_required
@require_GET
def gallery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gallery = get_object_or_404(
        Gallery.objects.filter(owner_id=_user(request).pk)
        .select_related("model_version", "job")
        .defer("model_version__model_file"),
        pk=pk,
    )
    images = list(GeneratedImage.objects.filter(gallery=gallery).defer("png"))
    evaluation = gallery.evaluation or None
    histogram = None
    if evaluation and evaluation.get("class_histogram"):
        histogram = charts.histogram_chart(
            evaluation.get("classes") or range(len(evaluation["class_histogram"])),
            evaluation["class_histogram"],
            requested=gallery.digit,
        )
    model_version = gallery.model_version
    return render(
        request,
        "web/gallery.html",
        {
            "gallery": gallery,
            "images": images,
            "evaluation": evaluation,
            "histogram": histogram,
            "model_version": model_version,
            "settings_rows": _settings_rows(model_version.settings)
            if model_version is not None
            else [],
            "grid_url": reverse("api:gallery-grid", kwargs={"pk": gallery.pk}),
            "zip_url": reverse("api:gallery-download", kwargs={"pk": gallery.pk}),
        },
    )


# --- History --------------------------------------------------------------------------

_M = TypeVar("_M", bound=Model)

HISTORY_TABS = {
    "runs": "Training runs",
    "models": "Model versions",
    "galleries": "Galleries",
}
JOB_KINDS = {"training": "Training runs", "generation": "Generations", "all": "All"}
SORTS: dict[str, dict[str, tuple[str, str]]] = {
    "runs": {
        "newest": ("Newest first", "-created_at"),
        "oldest": ("Oldest first", "created_at"),
        "name": ("Name", "name"),
        "state": ("State", "state"),
    },
    "models": {
        "newest": ("Newest first", "-created_at"),
        "oldest": ("Oldest first", "created_at"),
        "name": ("Name", "name"),
        "likelihood": ("Best test log-likelihood", "-metrics__test_log_likelihood"),
    },
    "galleries": {
        "newest": ("Newest first", "-created_at"),
        "oldest": ("Oldest first", "created_at"),
        "size": ("Most images", "-n_images"),
    },
}


def _ordering(field: str) -> OrderBy:
    """``"-name"`` as an ordering with missing values last on every database."""
    descending = field.startswith("-")
    name = field.lstrip("-")
    expression: Any = F(name)
    if "__" in name:
        # A number inside a JSON field, compared as a float rather than as JSON
        # or text. JSON null (the generator's -inf) must become SQL NULL: SQLite
        # would otherwise cast the text "null" to 0.
        column, key = name.split("__", 1)
        expression = Case(
            When(Q(**{name: None}) | Q(**{f"{name}__isnull": True}), then=None),
            default=Cast(KeyTextTransform(key, column), FloatField()),
            output_field=FloatField(),
        )
    if descending:
        return expression.desc(nulls_last=True)  # type: ignore[no-any-return]
    return expression.asc(nulls_last=True)  # type: ignore[no-any-return]


def _int_param(params: QueryDict, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, low), high)


def _text_param(params: QueryDict, name: str) -> str:
    """The parameter, or blank if it holds a NUL (PostgreSQL text cannot)."""
    value = params.get(name, "")
    return "" if "\x00" in value else value


def _date_param(params: QueryDict, name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(params.get(name, ""))
    except ValueError:
        return None


def _page(request: HttpRequest, queryset: QuerySet[_M]) -> Page[_M]:
    paginator = Paginator(queryset, PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def _filter_dates(
    queryset: QuerySet[_M], since: dt.date | None, until: dt.date | None
) -> QuerySet[_M]:
    # Whole days in the site's time zone, the way the date inputs read.
    zone = timezone.get_current_timezone()
    if since is not None:
        start = dt.datetime.combine(since, dt.time.min, tzinfo=zone)
        queryset = queryset.filter(created_at__gte=start)
    if until is not None and until < dt.date.max:  # the last day has no "next day"
        end = dt.datetime.combine(
            until + dt.timedelta(days=1), dt.time.min, tzinfo=zone
        )
        queryset = queryset.filter(created_at__lt=end)
    return queryset


@_login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """Training runs, model versions and galleries with filters, sorting, pages."""
    user = _user(request)
    params = request.GET
    tab = params.get("tab", "runs")
    if tab not in HISTORY_TABS:
        tab = "runs"
    state = params.get("state", "")
    kind = params.get("kind", "training")
    if kind not in JOB_KINDS:
        kind = "training"
    dataset = _text_param(params, "dataset")
    kernel = _text_param(params, "kernel")
    since, until = _date_param(params, "since"), _date_param(params, "until")
    sort = params.get("sort", "newest")
    if sort not in SORTS[tab]:
        sort = "newest"
    ordering = _ordering(SORTS[tab][sort][1])

    own_jobs = Job.objects.filter(owner_id=user.pk)
    own_models = ModelVersion.objects.filter(owner_id=user.pk).defer("model_file")
    own_galleries = Gallery.objects.filter(owner_id=user.pk)
    totals = {
        "runs": own_jobs.filter(kind=Job.Kind.TRAINING).count(),
        "models": own_models.count(),
        "galleries": own_galleries.count(),
    }
    queryset: QuerySet[Any]
    unfiltered: int
    if tab == "runs":
        jobs = _jobs(user)
        if kind != "all":
            jobs = jobs.filter(kind=kind)
        unfiltered = jobs.count()
        if state in Job.State.values:
            jobs = jobs.filter(state=state)
        if dataset or kernel:
            jobs = jobs.filter(_job_setting_filter(user, dataset, kernel))
        queryset = _filter_dates(jobs, since, until)
    elif tab == "models":
        models = own_models
        unfiltered = models.count()
        if dataset:
            models = models.filter(dataset=dataset)
        if kernel:
            models = models.filter(settings__kernel=kernel)
        queryset = _filter_dates(models, since, until)
    else:
        galleries = own_galleries.select_related("model_version").defer(
            "model_version__model_file"
        )
        unfiltered = galleries.count()
        if dataset:
            galleries = galleries.filter(model_version__dataset=dataset)
        if kernel:
            galleries = galleries.filter(model_version__settings__kernel=kernel)
        queryset = _filter_dates(galleries, since, until)
    page = _page(request, queryset.order_by(ordering, "-pk"))
    filtered = any([state, dataset, kernel, since, until]) or (
        tab == "runs" and kind != "training"
    )
    return render(
        request,
        "web/history.html",
        {
            "tab": tab,
            "tabs": HISTORY_TABS,
            "totals": totals,
            "page": page,
            "unfiltered": unfiltered,
            "filtered": filtered,
            "state": state,
            "states": Job.State.values,
            "kind": kind,
            "kinds": JOB_KINDS,
            "dataset": dataset,
            "datasets": services.DATASET_NAMES,
            "kernel": kernel,
            "kernels": services.KERNELS,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
            "sort": sort,
            "sorts": {key: label for key, (label, _) in SORTS[tab].items()},
            "phase_labels": PHASE_LABELS,
        },
    )


def _job_setting_filter(user: AbstractBaseUser, dataset: str, kernel: str) -> Q:
    """Jobs trained with (or generating from a model trained with) these settings."""
    training = Q(kind=Job.Kind.TRAINING)
    models = job_services.visible_model_versions(user)
    if dataset:
        training &= Q(params__dataset=dataset)
        models = models.filter(dataset=dataset)
    if kernel:
        training &= Q(params__kernel=kernel)
        models = models.filter(settings__kernel=kernel)
    model_ids = list(models.values_list("pk", flat=True))
    generation = Q(kind=Job.Kind.GENERATION, params__model_version__in=model_ids)
    return training | generation


# --- Compare --------------------------------------------------------------------------


def _differs(values: Iterable[Any]) -> bool:
    distinct = {repr(value) for value in values}
    return len(distinct) > 1


def _id_param(text: str) -> int | None:
    """An id typed as plain decimal digits, else None."""
    text = text.strip()
    # isdigit() also passes "²", which int() refuses; int() alone would take
    # signs and underscores.
    if not text.isdecimal():
        return None
    try:
        return int(text)
    except ValueError:  # past int()'s digit limit
        return None


@_login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """Two to four model versions side by side."""
    user = _user(request)
    visible = _visible_models(user)
    raw_ids = request.GET.getlist("ids")
    ids: list[int] = []
    for raw in raw_ids:
        for part in raw.split(","):
            pk = _id_param(part)
            if pk is not None and pk not in ids:
                ids.append(pk)
    error = None
    chosen: list[ModelVersion] = []
    if ids:
        found = {model.pk: model for model in visible.filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in found]
        if missing:
            # Someone else's model version is "not found", as in the API.
            return render(
                request,
                "web/compare.html",
                {
                    "choices": visible.order_by("-created_at")[:100],
                    "error": "Model version not found.",
                    "selected": ids,
                },
                status=404,
            )
        chosen = [found[pk] for pk in ids]
        # A single id (the model page's "Compare…" link) preselects it in the
        # picker; only a submitted choice of the wrong size is an error.
        picked = len(chosen) > COMPARE_MAX or "submitted" in request.GET
        if picked and not COMPARE_MIN <= len(chosen) <= COMPARE_MAX:
            error = (
                f"Pick {COMPARE_MIN} to {COMPARE_MAX} model versions to compare "
                f"(you picked {len(chosen)})."
            )
    if error or len(chosen) < COMPARE_MIN:
        return render(
            request,
            "web/compare.html",
            {
                "choices": visible.order_by("-created_at")[:100],
                "error": error,
                "selected": ids,
            },
            status=400 if error else 200,
        )
    labelled = [
        charts.Labelled(f"{model} (#{model.pk})", model.metrics or {})
        for model in chosen
    ]
    setting_rows = []
    for key, label in SETTING_LABELS.items():
        values = [model.settings.get(key) for model in chosen]
        setting_rows.append(
            {
                "key": key,
                "label": label,
                "values": values,
                "differs": _differs(values),
            }
        )
    metric_specs: list[tuple[str, Callable[[ModelVersion], Any], str]] = [
        ("Training images", lambda m: m.metrics.get("n_train"), "number"),
        ("Components kept", lambda m: m.stats()["pca_components"], "number"),
        ("Explained variance", lambda m: m.stats()["variance_explained"], "percent"),
        ("Bandwidth", lambda m: m.stats()["kde_bandwidth"], "number"),
        (
            "Test log-likelihood",
            lambda m: m.metrics.get("test_log_likelihood"),
            "loglik",
        ),
        (
            "Training time",
            lambda m: sum(
                v
                for v in (m.metrics.get("seconds") or {}).values()
                if isinstance(v, int | float)
            ),
            "duration",
        ),
    ]
    metric_rows = []
    for label, getter, kind in metric_specs:
        values = [getter(model) for model in chosen]
        metric_rows.append(
            {
                "label": label,
                "values": values,
                "kind": kind,
                "differs": _differs(values),
            }
        )
    columns = []
    for index, model in enumerate(chosen):
        images, sample_error = _samples(model, SAMPLE_COUNT)
        columns.append(
            {
                "model": model,
                "colour": index,
                "images": images,
                "error": sample_error,
                "has_cv": charts.has_cv_curve(model.metrics or {}),
                "cv_gaps": charts.cv_gaps(model.metrics or {}),
                "cv_size": len(charts.cv_table(model.metrics or {})),
            }
        )
    return render(
        request,
        "web/compare_result.html",
        {
            "columns": columns,
            "setting_rows": setting_rows,
            "metric_rows": metric_rows,
            "variance_chart": charts.variance_chart(labelled, key="compare-variance"),
            "cv_chart": charts.cv_chart(labelled, key="compare-cv"),
            "any_cv": any(column["has_cv"] for column in columns),
            "ids": ",".join(str(model.pk) for model in chosen),
        },
    )
