"""Issue 13's latent walks in headless Chromium against the live server and a
real Celery worker: a walk between two digits from the model page, then one
between two images of its gallery. Pages go to artifacts/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.browser.browser_support import check_phone_width, wait_for_images
from tests.browser.test_browser_scenarios import sign_up, wait_for_state
from webapp.gallery.models import Gallery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_the_gallery(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    wait_for_state(page, "succeeded")
    page.get_by_role("link", name="Open the gallery").click()
    expect(page).to_have_url(re.compile(r"/galleries/\d+/$"))


def test_walks_between_digits_and_between_gallery_images(
    browser: Any, stack: Any, make_model_version: Any
) -> None:
    page = browser.new_page()
    sign_up(page, "walker")
    model_version = make_model_version(User.objects.get(username="walker"))

    page.goto(f"/models/{model_version.pk}/")
    page.get_by_label("A walk between two points").check()
    page.get_by_label("Number of images").fill("12")
    page.get_by_text("Walk end points").click()
    page.get_by_label("Start", exact=True).select_option("3")
    page.get_by_label("End", exact=True).select_option("8")
    browser.screenshot(page, "70-model-walk-form")
    page.get_by_role("button", name="Generate", exact=True).click()
    open_the_gallery(page)

    expect(
        page.get_by_role("heading", name="Walk from digit 3 to digit 8 (12 frames)")
    ).to_be_visible()
    frames = page.locator("ul.image-strip#gallery-images img")
    expect(frames).to_have_count(12)
    wait_for_images(frames, loaded=True)
    gif = page.locator("#walk-gif")
    wait_for_images(gif, loaded=True)
    # The strip is one row of frames, left to right.
    boxes = [frames.nth(i).bounding_box() for i in range(3)]
    assert all(box is not None for box in boxes)
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"]  # type: ignore[index]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # type: ignore[index]
    browser.screenshot(page, "71-walk-gallery")
    check_phone_width(browser, page, "73-phone-walk-gallery")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Animated GIF").click()
    assert download_info.value.path().read_bytes()[:6] == b"GIF89a"

    # A walk between the first and the last frame of that walk.
    walk_gallery = Gallery.objects.get(owner__username="walker")
    first, *_, last = walk_gallery.images.all()
    page.get_by_label("From image").select_option(str(first.pk))
    page.get_by_label("To image").select_option(str(last.pk))
    page.get_by_label("Frames").fill("5")
    page.get_by_role("button", name="Walk", exact=True).click()
    open_the_gallery(page)
    expect(
        page.get_by_role(
            "heading",
            name=f"Walk from image #{first.pk} to image #{last.pk} (5 frames)",
        )
    ).to_be_visible()
    expect(page.locator("#gallery-images img")).to_have_count(5)
    wait_for_images(page.locator("#gallery-images img"), loaded=True)
    browser.screenshot(page, "72-walk-between-images")
