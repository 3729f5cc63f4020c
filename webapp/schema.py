"""OpenAPI schema tweaks."""

from __future__ import annotations

from typing import Any

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
