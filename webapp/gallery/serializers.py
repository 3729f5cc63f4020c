from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs.models import ModelVersion


class GeneratedImageSerializer(serializers.ModelSerializer[GeneratedImage]):
    url = serializers.HyperlinkedIdentityField(
        view_name="api:image-png", help_text="The PNG file."
    )

    class Meta:
        model = GeneratedImage
        fields = ("id", "index", "digit", "seed", "url")
        read_only_fields = fields


class GallerySerializer(serializers.ModelSerializer[Gallery]):
    url = serializers.HyperlinkedIdentityField(view_name="api:gallery-detail")
    grid_url = serializers.HyperlinkedIdentityField(
        view_name="api:gallery-grid", help_text="All images as one PNG."
    )
    download_url = serializers.HyperlinkedIdentityField(
        view_name="api:gallery-download", help_text="All images as a ZIP."
    )
    model_version_url = serializers.HyperlinkedRelatedField[ModelVersion](
        view_name="api:model-version-detail", source="model_version", read_only=True
    )
    walk = serializers.JSONField(
        read_only=True,
        help_text="A walk's end points (from_digit, to_digit, from_image, "
        "to_image; null for a random sample); null for samples.",
    )
    gif_url = serializers.SerializerMethodField(
        help_text="A walk as an animated GIF; null for samples."
    )

    class Meta:
        model = Gallery
        fields: tuple[str, ...] = (
            "id",
            "url",
            "name",
            "job",
            "model_version",
            "model_version_url",
            "n_images",
            "digit",
            "seed",
            "temperature",
            "mode",
            "walk",
            "grid_url",
            "gif_url",
            "download_url",
            "created_at",
        )
        read_only_fields = fields

    def get_gif_url(self, gallery: Gallery) -> str | None:
        if gallery.mode != Gallery.Mode.WALK:
            return None
        return str(
            reverse(
                "api:gallery-gif",
                kwargs={"pk": gallery.pk},
                request=self.context.get("request"),
            )
        )


class GalleryDetailSerializer(GallerySerializer):
    images = GeneratedImageSerializer(many=True, read_only=True)
    model_version_settings = serializers.SerializerMethodField(
        help_text="The settings of the model version that made the images."
    )

    class Meta(GallerySerializer.Meta):
        fields = (
            *GallerySerializer.Meta.fields,
            "model_version_settings",
            "evaluation_state",
            "evaluation",
            "images",
        )
        read_only_fields = fields

    def get_model_version_settings(self, gallery: Gallery) -> dict[str, Any] | None:
        model_version = gallery.model_version
        return None if model_version is None else model_version.settings
