"""Helpers of the browser tests that their fixtures share."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def wait_for_images(images: Any, *, loaded: bool = False) -> None:
    """Wait until every image of the locator is complete (and with ``loaded``,
    has real pixels).

    Playwright's wait_for_function evaluates its string in the page, which the
    Content-Security-Policy (no unsafe-eval) refuses once it has to poll; these
    assertions run in Playwright's own world.
    """
    for image in images.all():
        expect(image).to_have_js_property("complete", True)
        if loaded:
            expect(image).not_to_have_js_property("naturalWidth", 0)
