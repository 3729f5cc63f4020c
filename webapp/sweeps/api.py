"""REST endpoints of parameter sweeps."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import BaseSerializer

from webapp.jobs import limits
from webapp.jobs.api import _conflict, _owner, _refused
from webapp.jobs.permissions import IsOwner
from webapp.jobs.services import JobConflict
from webapp.sweeps import services
from webapp.sweeps.models import Sweep
from webapp.sweeps.serializers import (
    SweepCreateSerializer,
    SweepSamplingSerializer,
    SweepSerializer,
)


class SweepViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Sweep],
):
    """Parameter sweeps: one training run per combination of the grid's values,
    queued as your active-job slots free up."""

    permission_classes = (IsAuthenticated, IsOwner)

    def get_queryset(self) -> QuerySet[Sweep]:
        return Sweep.objects.for_owner(self.request.user).with_progress().with_runs()

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "create":
            return SweepCreateSerializer
        return SweepSerializer

    @extend_schema(
        responses={
            202: SweepSerializer,
            400: OpenApiResponse(
                description="A bad setting in any combination, or too many "
                "combinations (the message gives the count)."
            ),
            409: OpenApiResponse(description="Your storage quota is full."),
        }
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a parameter sweep; its runs start as your slots free up."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            sweep = services.create_sweep(_owner(request), **serializer.validated_data)
        except limits.JobRefused as refusal:
            return _refused(refusal)
        sweep = self.get_queryset().get(pk=sweep.pk)
        data = SweepSerializer(sweep, context=self.get_serializer_context()).data
        location = reverse("api:sweep-detail", kwargs={"pk": sweep.pk}, request=request)
        return Response(
            data, status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )

    @extend_schema(
        request=None,
        responses={
            200: SweepSerializer,
            409: OpenApiResponse(description="Every run has already ended."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel the waiting and queued runs; running ones stop at their next step."""
        sweep = self.get_object()
        try:
            services.cancel_sweep(sweep)
        except JobConflict as conflict:
            return _conflict(conflict)
        return Response(
            SweepSerializer(
                self.get_queryset().get(pk=sweep.pk),
                context=self.get_serializer_context(),
            ).data
        )

    @extend_schema(
        request=None,
        responses={
            202: SweepSamplingSerializer,
            409: OpenApiResponse(
                description="No run's model lacks a sample confidence, every "
                "sample is on its way, gallery evaluation is off, or your storage "
                "quota is full."
            ),
            429: OpenApiResponse(
                description="Your active generation jobs leave no slot (Retry-After)."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def sample(self, request: Request, pk: str | None = None) -> Response:
        """Queue a gallery of independent samples from each run's model that has no
        sample confidence yet (64 images, seed 0); once evaluated, each gives its
        run's ``sample_confidence``. As many as your limits allow."""
        sweep = self.get_object()
        try:
            sampling = services.sample_runs(sweep, _owner(request))
        except JobConflict as conflict:
            return _conflict(conflict)
        except limits.JobRefused as refusal:
            return _refused(refusal)
        return Response(
            SweepSamplingSerializer(sampling).data, status=status.HTTP_202_ACCEPTED
        )
