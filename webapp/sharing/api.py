"""REST endpoints of share links: create one for a gallery or model version, list
and revoke them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.gallery.models import Gallery
from webapp.jobs.models import ModelVersion, ModelVersionQuerySet
from webapp.jobs.permissions import IsOwner
from webapp.sharing import services
from webapp.sharing.models import ShareLink
from webapp.sharing.serializers import ShareLinkSerializer


def owned_share_links(user: Any) -> QuerySet[ShareLink]:
    """The user's links with their objects (and no model file)."""
    return (
        ShareLink.objects.for_owner(user)
        .select_related("gallery", "model_version")
        .defer(ModelVersionQuerySet.file_through("model_version"))
    )


class ShareLinkViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ShareLink],
):
    """The caller's share links; deleting one revokes it at once."""

    permission_classes = (IsAuthenticated, IsOwner)
    serializer_class = ShareLinkSerializer

    def get_queryset(self) -> QuerySet[ShareLink]:
        return owned_share_links(self.request.user)


class _CreateShareLinkView(GenericAPIView[Any]):
    permission_classes = (IsAuthenticated, IsOwner)
    serializer_class = ShareLinkSerializer

    @extend_schema(request=None, responses={201: ShareLinkSerializer})
    def post(self, request: Request, pk: str) -> Response:
        link, token = services.create_share_link(self.get_object())
        serializer = self.get_serializer(
            link, context={"request": request, "token": token}
        )
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class GalleryShareView(_CreateShareLinkView):
    """Create a read-only share link to your gallery."""

    def get_queryset(self) -> QuerySet[Gallery]:
        return Gallery.objects.for_owner(self.request.user)


class ModelVersionShareView(_CreateShareLinkView):
    """Create a read-only share link to your model version."""

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.for_owner(self.request.user).without_file()
