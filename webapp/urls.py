"""Root URLs: the REST API under /api/v1/, its schema and docs, the old app's
/stats and /generate, the admin. The browser pages mount at the root."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from webapp.accounts.api import RegisterView, TokenView
from webapp.gallery.api import GalleryViewSet, ImageView
from webapp.jobs.api import (
    GenerationViewSet,
    HealthView,
    JobViewSet,
    LegacyGenerateView,
    LegacyStatsView,
    ModelVersionViewSet,
    TrainingRunViewSet,
)


class OptionalSlashRouter(SimpleRouter):
    """Routes that match with or without the trailing slash (no redirects)."""

    def __init__(self) -> None:
        super().__init__()
        # The API's documented paths mix both styles ("/jobs/", "/jobs/{id}").
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("training-runs", TrainingRunViewSet, basename="training-run")
router.register("generations", GenerationViewSet, basename="generation")
router.register("jobs", JobViewSet, basename="job")
router.register("model-versions", ModelVersionViewSet, basename="model-version")
router.register("galleries", GalleryViewSet, basename="gallery")

api_v1: list[URLPattern | URLResolver] = [
    re_path(r"^auth/register/?$", RegisterView.as_view(), name="auth-register"),
    re_path(r"^auth/token/?$", TokenView.as_view(), name="auth-token"),
    re_path(r"^images/(?P<pk>[0-9]+)\.png$", ImageView.as_view(), name="image-png"),
    *router.urls,
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="web/api_docs.html"
        ),
        name="docs",
    ),
    re_path(r"^stats/?$", LegacyStatsView.as_view(), name="legacy-stats"),
    re_path(r"^generate/?$", LegacyGenerateView.as_view(), name="legacy-generate"),
    path("healthz", HealthView.as_view(), name="health"),
    path("admin/", admin.site.urls),
    path("", include("webapp.web.urls")),
]

handler404 = "webapp.errors.not_found"
handler500 = "webapp.errors.server_error"
