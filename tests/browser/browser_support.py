"""Helpers of the browser tests that their fixtures share."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

#: A phone's viewport; the default pages are laptop-sized (1280 x 900).
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}


def no_sideways_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
            " && document.body.scrollWidth <= window.innerWidth"
        )
    )


def check_phone_width(browser: Any, page: Page, screenshot: str) -> None:
    """The page at a phone's width scrolls only down (screenshot ``screenshot``),
    then back to laptop size."""
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page), f"{page.url} scrolls sideways on a phone"
    browser.screenshot(page, screenshot)
    page.set_viewport_size(LAPTOP)


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
