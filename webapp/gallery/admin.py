from __future__ import annotations

from django.contrib import admin

from webapp.gallery.models import Gallery


@admin.register(Gallery)
class GalleryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "owner", "model_version", "n_images", "digit", "created_at")
    list_filter = ("digit",)
    search_fields = ("owner__username",)
    readonly_fields = ("job", "model_version", "evaluation", "created_at")
    raw_id_fields = ("owner",)
