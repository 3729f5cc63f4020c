"""OpenAPI schema tweaks, and the schema view that builds it once per process."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request

# List endpoints the API documents with a trailing slash ("GET /api/v1/jobs/").
_COLLECTIONS = ("/jobs", "/model-versions", "/galleries")


def document_paths_as_written(
    endpoints: list[tuple[str, str, str, Any]], **kwargs: Any
) -> list[tuple[str, str, str, Any]]:
    """Show each path the way the API reference writes it.

    Every route accepts both forms; drf-spectacular would print the optional
    slash as a required one ("/images/{id}.png/").
    """
    result = []
    for path, path_regex, method, callback in endpoints:
        bare = path.rstrip("/") or "/"
        if bare.endswith(_COLLECTIONS):
            bare += "/"
        result.append((bare, path_regex, method, callback))
    return result


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view, with each schema built and rendered once per
    process.

    The schema changes only with the code; building it walks every view and
    serializer, and rendering it as YAML costs as much again (together about 40
    requests/s at best). Built per version and language, as drf-spectacular
    does; rendered per media type chosen by content negotiation.

    One thread at a time builds: drf-spectacular loads its extensions on first
    use by rewriting class attributes, and threads building at once (a threaded
    gunicorn's first requests) read them half-written and answered 500s
    (drf-spectacular issue #1122).
    """

    _built: ClassVar[dict[tuple[str | None, str | None], Any]] = {}
    _rendered: ClassVar[dict[tuple[str | None, str | None, str], str | bytes]] = {}
    _building: ClassVar[threading.Lock] = threading.Lock()

    def _get_schema_response(self, request: Request) -> HttpResponse:
        version = (
            self.api_version or request.version or self._get_version_parameter(request)  # type: ignore[no-untyped-call]
        )
        key = (version, translation.get_language())
        media_type = request.accepted_media_type
        renderer = request.accepted_renderer
        if (*key, media_type) not in self._rendered:
            with self._building:
                if key not in self._built:
                    generator = self.generator_class(
                        urlconf=self.urlconf,
                        api_version=version,
                        patterns=self.patterns,
                    )
                    self._built[key] = generator.get_schema(  # type: ignore[no-untyped-call]
                        request=request, public=self.serve_public
                    )
                self._rendered[(*key, media_type)] = renderer.render(
                    self._built[key], media_type, self.get_renderer_context()
                )
        filename = self._get_filename(request, version)  # type: ignore[no-untyped-call]
        charset = f"; charset={renderer.charset}" if renderer.charset else ""
        return HttpResponse(
            self._rendered[(*key, media_type)],
            content_type=media_type + charset,
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )
