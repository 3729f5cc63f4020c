from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from webapp.gallery.models import Gallery, GeneratedImage


def _url(view_name: str, pk: object, context: Mapping[str, Any]) -> str:
    return reverse(view_name, kwargs={"pk": pk}, request=context.get("request"))


class GeneratedImageSerializer(serializers.ModelSerializer[GeneratedImage]):
    url = serializers.SerializerMethodField(help_text="The PNG file.")

    class Meta:
        model = GeneratedImage
        fields = ("id", "index", "digit", "seed", "url")
        read_only_fields = fields

    def get_url(self, image: GeneratedImage) -> str:
        return _url("api:image-png", image.pk, self.context)


class GallerySerializer(serializers.ModelSerializer[Gallery]):
    url = serializers.SerializerMethodField()
    grid_url = serializers.SerializerMethodField(help_text="All images as one PNG.")
    download_url = serializers.SerializerMethodField(help_text="All images as a ZIP.")
    model_version_url = serializers.SerializerMethodField()

    class Meta:
        model = Gallery
        fields: tuple[str, ...] = (
            "id",
            "url",
            "job",
            "model_version",
            "model_version_url",
            "n_images",
            "digit",
            "seed",
            "temperature",
            "grid_url",
            "download_url",
            "created_at",
        )
        read_only_fields = fields

    def get_url(self, gallery: Gallery) -> str:
        return _url("api:gallery-detail", gallery.pk, self.context)

    def get_grid_url(self, gallery: Gallery) -> str:
        return _url("api:gallery-grid", gallery.pk, self.context)

    def get_download_url(self, gallery: Gallery) -> str:
        return _url("api:gallery-download", gallery.pk, self.context)

    def get_model_version_url(self, gallery: Gallery) -> str | None:
        if gallery.model_version_id is None:
            return None
        return _url("api:model-version-detail", gallery.model_version_id, self.context)


class GalleryDetailSerializer(GallerySerializer):
    images = GeneratedImageSerializer(many=True, read_only=True)
    model_version_settings = serializers.SerializerMethodField(
        help_text="The settings of the model version that made the images."
    )

    class Meta(GallerySerializer.Meta):
        fields = (
            *GallerySerializer.Meta.fields,
            "model_version_settings",
            "evaluation",
            "images",
        )
        read_only_fields = fields

    def get_model_version_settings(self, gallery: Gallery) -> dict[str, Any] | None:
        model_version = gallery.model_version
        return None if model_version is None else model_version.settings
