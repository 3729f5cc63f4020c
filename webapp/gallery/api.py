"""REST endpoints for galleries and their images."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from webapp import file_responses
from webapp.gallery import services
from webapp.gallery.filters import GalleryFilter
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.gallery.serializers import GalleryDetailSerializer, GallerySerializer
from webapp.jobs.api import RenameMixin
from webapp.jobs.permissions import IsOwner
from webapp.jobs.serializers import NameSerializer
from webapp.negotiation import FileContentNegotiation


def _positive_int(request: Request, name: str, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ValidationError({name: [f"Must be an integer from 1 to {maximum}."]})
    return value


@extend_schema_view(
    partial_update=extend_schema(request=NameSerializer),
    destroy=extend_schema(description="Delete your gallery and its images."),
)
class GalleryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    RenameMixin[Gallery],
):
    """The caller's galleries."""

    permission_classes = (IsAuthenticated, IsOwner)
    filterset_class = GalleryFilter
    ordering_fields = ("created_at", "n_images")

    def get_queryset(self) -> QuerySet[Gallery]:
        queryset = Gallery.objects.for_owner(self.request.user).with_model_version()
        if self.action in ("retrieve", "partial_update"):
            queryset = queryset.with_images()
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer[Gallery]]:
        if self.action in ("retrieve", "partial_update"):
            return GalleryDetailSerializer
        return GallerySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("scale", int, description="Pixels per image pixel, 1..8."),
            OpenApiParameter("columns", int, description="Images per row."),
        ],
        responses={(200, "image/png"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="grid.png",
        url_name="grid",
        content_negotiation_class=FileContentNegotiation,
    )
    def grid(self, request: Request, pk: str | None = None) -> HttpResponse:
        """All images of the gallery as one PNG sheet."""
        gallery = self.get_object()
        png = services.gallery_grid_png(
            gallery,
            scale=_positive_int(request, "scale", services.MAX_GRID_SCALE),
            columns=_positive_int(request, "columns", 256),
        )
        return file_responses.png_response(png)

    @extend_schema(
        responses={
            (200, "image/gif"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="Not your gallery, or not a walk."),
        }
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="walk.gif",
        url_name="gif",
        content_negotiation_class=FileContentNegotiation,
    )
    def gif(self, request: Request, pk: str | None = None) -> HttpResponse:
        """A walk's frames as an animated GIF that plays forth and back."""
        gallery = self.get_object()
        if gallery.mode != Gallery.Mode.WALK:
            raise NotFound("Only a walk has an animated GIF.")
        return file_responses.gallery_gif_response(gallery)

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(
        detail=True, methods=["get"], content_negotiation_class=FileContentNegotiation
    )
    def download(self, request: Request, pk: str | None = None) -> HttpResponse:
        """Every image as a PNG file in one ZIP, with a gallery.json."""
        return file_responses.gallery_zip_response(self.get_object())


class ImageView(GenericAPIView[GeneratedImage]):
    """One generated image as a PNG."""

    content_negotiation_class = FileContentNegotiation

    def get_queryset(self) -> QuerySet[GeneratedImage]:
        return GeneratedImage.objects.for_owner(self.request.user)

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: str) -> HttpResponse:
        return file_responses.image_response(self.get_object())
