"""REST endpoints for training runs, generations, jobs and model versions, plus the
old app's /stats and /generate."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, connection
from django.db.models import Model, QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import (
    NotAuthenticated,
    ParseError,
    UnsupportedMediaType,
)
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from webapp import file_responses
from webapp.jobs import limits, polling, readiness, services, serving
from webapp.jobs.filters import JobFilter, ModelVersionFilter
from webapp.jobs.models import Job, ModelVersion
from webapp.jobs.permissions import IsOwner, IsOwnerOrPublicReadOnly
from webapp.jobs.serializers import (
    GenerationSerializer,
    JobSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    NameSerializer,
    TrainingRunSerializer,
)
from webapp.negotiation import FileContentNegotiation
from webapp.throttles import GenerateThrottle

NO_MODEL_MESSAGE = (
    "No model is available yet: the demo model is still training. "
    "Please try again in a few minutes."
)


def _owner(request: Request) -> AbstractBaseUser:
    user = request.user
    if not isinstance(user, AbstractBaseUser):  # IsAuthenticated already ran
        raise NotAuthenticated
    return user


def _refused(refusal: limits.JobRefused) -> Response:
    """429 (with Retry-After) at the active-jobs limit, 409 with a full quota."""
    data: dict[str, Any] = {"detail": str(refusal)}
    if isinstance(refusal, limits.TooManyActiveJobs):
        data.update(active=refusal.active, limit=refusal.limit)
    if isinstance(refusal, limits.StorageQuotaExceeded):
        data.update(used_bytes=refusal.used_bytes, quota_bytes=refusal.quota_bytes)
    headers = {}
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return Response(data, status=refusal.http_status, headers=headers)


_REFUSALS = {
    409: OpenApiResponse(description="Your storage quota is full."),
    429: OpenApiResponse(
        description="Too many of your jobs are queued or running, or too many "
        "requests (see Retry-After)."
    ),
}


def _accepted(job: Job, request: Request) -> Response:
    data = JobSerializer(job, context={"request": request}).data
    # Location is the job's URL, which the answer already holds.
    return Response(
        data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]}
    )


_M = TypeVar("_M", bound=Model)

_CONFLICT = OpenApiResponse(description="The job's state forbids it; see detail.")


class RenameMixin(GenericViewSet[_M]):
    """``PATCH {"name": ...}`` renames one's own object (there is no PUT)."""

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rename = NameSerializer(self.get_object(), data=request.data)
        rename.is_valid(raise_exception=True)
        return Response(self.get_serializer(rename.save()).data)


def _conflict(conflict: services.JobConflict) -> Response:
    return Response({"detail": str(conflict)}, status=status.HTTP_409_CONFLICT)


class TrainingRunViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet[Job]):
    """Queue a training run."""

    serializer_class = TrainingRunSerializer
    queryset = Job.objects.none()

    @extend_schema(responses={202: JobSerializer, **_REFUSALS})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            job = services.create_training_job(
                _owner(request),
                training_settings=serializer.validated_data["settings"],
                name=serializer.validated_data["name"],
            )
        except limits.JobRefused as refusal:
            return _refused(refusal)
        return _accepted(job, request)


class GenerationViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet[Job]):
    """Queue the generation of a gallery of images."""

    serializer_class = GenerationSerializer
    queryset = Job.objects.none()

    @extend_schema(responses={202: JobSerializer, **_REFUSALS})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            job = services.create_generation_job(
                _owner(request), **serializer.validated_data
            )
        except limits.JobRefused as refusal:
            return _refused(refusal)
        return _accepted(job, request)


@extend_schema_view(
    partial_update=extend_schema(request=NameSerializer),
    destroy=extend_schema(responses={204: None, 409: _CONFLICT}),
)
class JobViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    RenameMixin[Job],
):
    """The caller's jobs: poll these for state and progress; rename, delete (once
    finished) or run them again."""

    serializer_class = JobSerializer
    permission_classes = (IsAuthenticated, IsOwner)
    filterset_class = JobFilter
    ordering_fields = ("created_at", "started_at", "finished_at", "state", "kind")

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.for_owner(self.request.user).with_results()

    # A token poll's (read, job), read with its credentials (`polling.token_poll`).
    _token_poll: tuple[bool, dict[str, Any] | None] = (False, None)

    def perform_authentication(self, request: Request) -> None:
        if self.action == "retrieve":
            self._token_poll = polling.token_poll(request, self.kwargs["pk"])
        super().perform_authentication(request)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One of your jobs: poll it for its state and progress."""
        read, job = self._token_poll
        if not read:
            job = polling.owned_job(request.user.pk, kwargs["pk"])
        if job is None:
            raise Http404
        return Response(polling.job_data(job, request))

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(description="The job has already finished."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel: a queued job never starts, a running one stops at its next step."""
        job = self.get_object()
        try:
            job = services.cancel_job(job)
        except services.JobConflict as conflict:
            return _conflict(conflict)
        return Response(self.get_serializer(job).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a finished job; the model version or gallery it made stays."""
        try:
            services.delete_job(self.get_object())
        except services.JobConflict as conflict:
            return _conflict(conflict)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={
            202: JobSerializer,
            409: OpenApiResponse(
                description="The job has not finished, its model version is gone, "
                "or your storage quota is full."
            ),
            429: _REFUSALS[429],
        },
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk: str | None = None) -> Response:
        """Queue a new job with the same settings as this finished one."""
        try:
            job = services.rerun_job(self.get_object())
        except services.JobConflict as conflict:
            return _conflict(conflict)
        except limits.JobRefused as refusal:
            return _refused(refusal)
        except services.SettingsError as error:
            raise serializers.ValidationError(error.errors) from error
        return _accepted(job, request)


@extend_schema_view(
    partial_update=extend_schema(request=NameSerializer),
    destroy=extend_schema(
        description=(
            "Delete your model version. Its galleries stay, with model_version "
            "null; if it was your default, your newest remaining version becomes "
            "the default."
        )
    ),
)
class ModelVersionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    RenameMixin[ModelVersion],
):
    """The caller's model versions and the public demo model."""

    permission_classes = (IsAuthenticated, IsOwnerOrPublicReadOnly)
    filterset_class = ModelVersionFilter
    ordering_fields = ("created_at", "version", "name", "dataset")
    _OWNER_ACTIONS = ("set_default", "partial_update", "destroy")

    def get_queryset(self) -> QuerySet[ModelVersion]:
        if self.action in self._OWNER_ACTIONS:
            # Changing someone else's version, the public demo included, is 404.
            queryset = ModelVersion.objects.for_owner(self.request.user)
        else:
            queryset = ModelVersion.objects.visible_to(self.request.user)
        return queryset.without_file().select_related("owner")

    def get_serializer_class(self) -> type[BaseSerializer[ModelVersion]]:
        if self.action == "list":
            return ModelVersionSerializer
        return ModelVersionDetailSerializer

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True,
        methods=["get"],
        content_negotiation_class=FileContentNegotiation,
    )
    def download(
        self, request: Request, pk: str | None = None
    ) -> HttpResponse | StreamingHttpResponse:
        """The model's .npz file (checked against its SHA-256 first), streamed."""
        try:
            return file_responses.model_file_response(self.get_object())
        except serving.ModelUnavailable as error:
            return Response(
                {"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE
            )

    def perform_destroy(self, instance: ModelVersion) -> None:
        serving.delete_model_version(instance)

    @extend_schema(request=None, responses={200: ModelVersionDetailSerializer})
    @action(detail=True, methods=["post"], url_path="set-default")
    def set_default(self, request: Request, pk: str | None = None) -> Response:
        """Make this your default model version (used when none is named)."""
        model_version = serving.set_default_model_version(self.get_object())
        return Response(self.get_serializer(model_version).data)


_LEGACY_ERROR = inline_serializer(
    "LegacyError",
    {"success": serializers.BooleanField(), "error": serializers.CharField()},
)


def _legacy_error(message: str, status_code: int) -> Response:
    return Response({"success": False, "error": message}, status=status_code)


class LegacyStatsView(APIView):
    """The old app's model figures, for the caller's default or the demo model."""

    permission_classes = (AllowAny,)

    @extend_schema(
        responses={
            200: inline_serializer(
                "LegacyStats",
                {
                    "pca_components": serializers.IntegerField(),
                    "variance_explained": serializers.FloatField(),
                    "kde_bandwidth": serializers.FloatField(),
                    "original_dim": serializers.IntegerField(),
                    "reduced_dim": serializers.IntegerField(),
                },
            ),
            503: _LEGACY_ERROR,
        }
    )
    def get(self, request: Request) -> Response:
        model_version = serving.serving_model_version(request.user)
        if model_version is None:
            return _legacy_error(NO_MODEL_MESSAGE, status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(model_version.stats())


class LegacyGenerateView(APIView):
    """The old app's synchronous sampler: ``{"n_samples": 1..16}`` -> data URLs."""

    permission_classes = (AllowAny,)
    throttle_classes = (GenerateThrottle,)
    DEFAULT_SAMPLES = 16

    @extend_schema(
        request=inline_serializer(
            "LegacyGenerateRequest",
            {"n_samples": serializers.IntegerField(min_value=1, max_value=16)},
        ),
        responses={
            200: inline_serializer(
                "LegacyGenerateResponse",
                {
                    "success": serializers.BooleanField(),
                    "images": serializers.ListField(child=serializers.CharField()),
                    "count": serializers.IntegerField(),
                },
            ),
            400: _LEGACY_ERROR,
            503: _LEGACY_ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            data = request.data
        except UnsupportedMediaType:
            return _legacy_error(
                "Send a JSON body.", status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
            )
        except ParseError:
            return _legacy_error(
                "The request body is not valid JSON.", status.HTTP_400_BAD_REQUEST
            )
        if not isinstance(data, dict):
            return _legacy_error(
                'Send a JSON object such as {"n_samples": 8}.',
                status.HTTP_400_BAD_REQUEST,
            )
        n_samples = data.get("n_samples", self.DEFAULT_SAMPLES)
        limit = serving.MAX_SYNC_SAMPLES
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, int)
            or not 1 <= n_samples <= limit
        ):
            return _legacy_error(
                f"n_samples must be an integer from 1 to {limit}.",
                status.HTTP_400_BAD_REQUEST,
            )
        model_version = serving.serving_model_version(request.user)
        if model_version is None:
            return _legacy_error(NO_MODEL_MESSAGE, status.HTTP_503_SERVICE_UNAVAILABLE)
        try:
            pngs = serving.sample_pngs(model_version, n_samples)
        except serving.ModelUnavailable as error:
            return _legacy_error(str(error), status.HTTP_503_SERVICE_UNAVAILABLE)
        images = [file_responses.png_data_url(png) for png in pngs]
        return Response({"success": True, "images": images, "count": len(images)})


class HealthView(APIView):
    """Liveness and database reachability, for load balancers and Compose."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField()}),
            503: inline_serializer("Unhealthy", {"status": serializers.CharField()}),
        }
    )
    def get(self, request: Request) -> Response:
        try:
            connection.ensure_connection()
        except DatabaseError:
            return Response(
                {"status": "database unavailable"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"status": "ok"})


class ReadyView(APIView):
    """Readiness: database, migrations and broker; 503 names what is missing."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        responses={
            200: OpenApiTypes.OBJECT,
            503: OpenApiResponse(
                OpenApiTypes.OBJECT, description="`missing` names the failed checks."
            ),
        }
    )
    def get(self, request: Request) -> Response:
        result = readiness.check_readiness()
        return Response(
            result.as_dict(),
            status=status.HTTP_200_OK
            if result.ready
            else status.HTTP_503_SERVICE_UNAVAILABLE,
        )
