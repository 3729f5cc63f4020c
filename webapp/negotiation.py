"""Content negotiation for endpoints that answer with files (PNG, ZIP, .npz)."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FileContentNegotiation(BaseContentNegotiation):
    """Ignore ``Accept``: the file comes back as itself, errors as JSON.

    With only the JSON renderer installed, DRF would answer an ``<img>`` request's
    ``Accept: image/png`` with 406 before the view ran.
    """

    def select_parser(
        self, request: Request, parsers: Iterable[BaseParser]
    ) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
