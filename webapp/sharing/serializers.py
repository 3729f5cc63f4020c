from __future__ import annotations

from rest_framework import serializers

from webapp.sharing.models import ShareLink
from webapp.sharing.services import share_path


class ShareLinkSerializer(serializers.ModelSerializer[ShareLink]):
    target = serializers.ChoiceField(
        choices=ShareLink.Target.choices, read_only=True, help_text="What it opens."
    )
    title = serializers.SerializerMethodField(
        help_text="The gallery's or model version's name."
    )
    url = serializers.SerializerMethodField(
        help_text="The share page. Only in the answer that created the link: the "
        "token is stored hashed, so it cannot be shown again."
    )

    class Meta:
        model = ShareLink
        fields = (
            "id",
            "url",
            "target",
            "gallery",
            "model_version",
            "title",
            "created_at",
        )
        read_only_fields = fields

    def get_title(self, link: ShareLink) -> str:
        if link.gallery is not None:
            return link.gallery.title
        return str(link.model_version)

    def get_url(self, link: ShareLink) -> str | None:
        token: str | None = self.context.get("token")
        if token is None:
            return None
        return str(self.context["request"].build_absolute_uri(share_path(token)))
