"""Root URLs: the REST API under /api/v1/, its schema and docs, the old app's
/stats and /generate, the admin. The browser pages mount at the root."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import APIRootView, DefaultRouter

from webapp.accounts.api import RegisterView, TokenView
from webapp.gallery.api import GalleryViewSet, ImageView
from webapp.jobs.api import (
    GenerationViewSet,
    HealthView,
    JobViewSet,
    LegacyGenerateView,
    LegacyStatsView,
    ModelVersionViewSet,
    ReadyView,
    TrainingRunViewSet,
)
from webapp.schema import SchemaView
from webapp.sharing.api import (
    GalleryShareView,
    ModelVersionShareView,
    ShareLinkViewSet,
)
from webapp.sweeps.api import SweepViewSet


class ApiRootView(APIRootView):
    """``GET /api/v1/``: every endpoint of the API, for anyone to discover."""

    permission_classes = (AllowAny,)


class OptionalSlashRouter(DefaultRouter):
    """Routes that match with or without the trailing slash (no redirects), and
    the API root listing them."""

    include_format_suffixes = False
    APIRootView = ApiRootView

    def __init__(self) -> None:
        super().__init__()
        # The API's documented paths mix both styles ("/jobs/", "/jobs/{id}").
        self.trailing_slash = "/?"

    def get_api_root_view(self, api_urls: Any = None) -> Any:
        # The router's own resources, then the endpoints it does not route.
        names = {
            prefix: self.routes[0].name.format(basename=basename)
            for prefix, _, basename in self.registry
        }
        names.update({"auth/register": "auth-register", "auth/token": "auth-token"})
        return self.APIRootView.as_view(api_root_dict=names)


router = OptionalSlashRouter()
router.register("training-runs", TrainingRunViewSet, basename="training-run")
router.register("generations", GenerationViewSet, basename="generation")
router.register("jobs", JobViewSet, basename="job")
router.register("model-versions", ModelVersionViewSet, basename="model-version")
router.register("galleries", GalleryViewSet, basename="gallery")
router.register("sweeps", SweepViewSet, basename="sweep")
router.register("share-links", ShareLinkViewSet, basename="share-link")

api_v1: list[URLPattern | URLResolver] = [
    re_path(r"^auth/register/?$", RegisterView.as_view(), name="auth-register"),
    re_path(r"^auth/token/?$", TokenView.as_view(), name="auth-token"),
    re_path(r"^images/(?P<pk>[0-9]+)\.png$", ImageView.as_view(), name="image-png"),
    re_path(
        r"^galleries/(?P<pk>[0-9]+)/share/?$",
        GalleryShareView.as_view(),
        name="gallery-share",
    ),
    re_path(
        r"^model-versions/(?P<pk>[0-9]+)/share/?$",
        ModelVersionShareView.as_view(),
        name="model-version-share",
    ),
    *router.urls,
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SchemaView.as_view(), name="schema"),
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
    path("readyz", ReadyView.as_view(), name="ready"),
    path("admin/", admin.site.urls),
    path("", include("webapp.web.urls")),
]

handler400 = "webapp.errors.bad_request"
handler403 = "webapp.errors.permission_denied"
handler404 = "webapp.errors.not_found"
handler500 = "webapp.errors.server_error"
