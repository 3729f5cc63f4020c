"""The largest gallery a job makes (256 images) in headless Chromium: its page
and its share page arrive in a handful of requests, not one per image, every
image shown and the phone layout intact. Pages go to artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect
from pytest_django import Settings as SettingsWrapper

from tests.browser.browser_support import check_phone_width, wait_for_images
from tests.browser.test_browser_scenarios import sign_up
from tests.webapp.job_rows import generation_job
from webapp.gallery.models import Gallery
from webapp.jobs import runner
from webapp.jobs.services import MAX_GENERATION_IMAGES
from webapp.sharing.services import create_share_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_full_gallery_loads_without_a_request_per_image(
    browser: Any, stack: Any, make_model_version: Any, settings: SettingsWrapper
) -> None:
    settings.GALLERY_EVALUATION = False
    page = browser.new_page()
    sign_up(page, "collector")
    owner = User.objects.get(username="collector")
    job = generation_job(
        owner, make_model_version(owner), n_images=MAX_GENERATION_IMAGES, seed=3
    )
    runner.run_generation_job(job.pk)
    gallery = Gallery.objects.get(job=job)
    token = create_share_link(gallery)[1]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    for path, name in (
        (f"/galleries/{gallery.pk}/", "80-full-gallery"),
        (f"/s/{token}/", "81-full-shared-gallery"),
    ):
        requested.clear()
        page.goto(path)
        images = page.locator("#gallery-images img")
        expect(images).to_have_count(MAX_GENERATION_IMAGES)
        wait_for_images(images, loaded=True)
        served = [url.removeprefix(stack.url) for url in requested]
        # The document, then only its stylesheet and scripts.
        assert served[0] == path
        assert [url for url in served[1:] if not url.startswith("/static/")] == []
        assert len(served) <= 5
        expect(page.get_by_role("link", name="Download image 256")).to_have_attribute(
            "download", "image-255.png"
        )
        browser.screenshot(page, name)
        check_phone_width(browser, page, f"{name}-phone")

    with page.expect_download() as download_info:
        page.locator("#gallery-images a").first.click()
    image = gallery.images.get(index=0)
    assert download_info.value.path().read_bytes() == bytes(image.png)
