"""Read-mostly admin views for operators; users work through the API and pages."""

from __future__ import annotations

from django.contrib import admin

from webapp.jobs.models import Job, ModelVersion, ModelVersionQuerySet


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "owner", "kind", "state", "phase", "progress", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("id", "owner__username", "name")
    readonly_fields = (
        "id",
        "params",
        "progress",
        "phase",
        "attempts",
        "celery_task_id",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "version", "owner", "dataset", "is_default", "is_public")
    list_filter = ("dataset", "is_public")
    search_fields = ("name", "owner__username")
    # The file is bytes in the database; never load it into a change form.
    exclude = ("model_file",)
    readonly_fields = (
        "settings",
        "metrics",
        "model_sha256",
        "model_size",
        "training_job",
        "created_at",
    )

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).defer(ModelVersionQuerySet.FILE_FIELD)
