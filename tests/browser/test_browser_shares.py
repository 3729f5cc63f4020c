"""Issue 13's share links in headless Chromium against the live server: the
owner creates links from the gallery and model pages, someone without an
account opens them, the owner revokes one. Pages go to artifacts/screenshots/."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django import Settings as SettingsWrapper

from tests.browser.browser_support import check_phone_width, wait_for_images
from tests.browser.test_browser_scenarios import sign_up
from tests.webapp.job_rows import generated_gallery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def create_link(page: Page) -> str:
    page.get_by_role("button", name="Create share link").click()
    field = page.locator("#new-share-url")
    expect(field).to_be_visible()
    return field.input_value()


def assert_read_only(page: Page) -> None:
    expect(
        page.locator('meta[name="robots"][content="noindex, nofollow"]')
    ).to_have_count(1)
    expect(page.locator("#shared-badge")).to_be_visible()
    expect(page.locator("main form")).to_have_count(0)
    for name in ("Rename", "Delete…", "Set as default", "Generate", "Revoke"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_sharing_a_gallery_and_a_model_with_someone_without_an_account(
    browser: Any, stack: Any, make_model_version: Any, settings: SettingsWrapper
) -> None:
    settings.GALLERY_EVALUATION = False
    owner_page = browser.new_page()
    sign_up(owner_page, "sharer")
    owner = User.objects.get(username="sharer")
    model_version = make_model_version(owner, name="shared digits")
    gallery = generated_gallery(owner, model_version, n_images=6, digit=3, seed=7)

    owner_page.goto(f"/galleries/{gallery.pk}/")
    expect(owner_page.locator("#no-share-links")).to_be_visible()
    gallery_url = create_link(owner_page)
    browser.screenshot(owner_page, "60-gallery-share-link-created")

    visitor = browser.new_page()
    response = visitor.goto(gallery_url)
    assert response is not None
    assert response.status == 200
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    expect(visitor.get_by_role("heading", name=gallery.title)).to_be_visible()
    images = visitor.locator("#gallery-images img")
    expect(images).to_have_count(6)
    wait_for_images(images, loaded=True)
    assert_read_only(visitor)
    browser.screenshot(visitor, "61-shared-gallery")
    check_phone_width(browser, visitor, "63-phone-shared-gallery")
    with visitor.expect_download() as download_info:
        visitor.get_by_role("link", name="Download ZIP").click()
    names = zipfile.ZipFile(io.BytesIO(download_info.value.path().read_bytes()))
    assert len(names.namelist()) == 7

    owner_page.goto(f"/models/{model_version.pk}/")
    model_url = create_link(owner_page)
    visitor.goto(model_url)
    expect(visitor.get_by_role("heading", name="shared digits")).to_be_visible()
    assert_read_only(visitor)
    before = visitor.locator("#model-samples img").first.get_attribute("src")
    visitor.get_by_role("link", name="Draw new ones").click()
    expect(visitor.locator("#samples-status")).to_have_text("New samples drawn.")
    expect(visitor.locator("#model-samples img").first).not_to_have_attribute(
        "src", before or ""
    )
    browser.screenshot(visitor, "62-shared-model")
    check_phone_width(browser, visitor, "64-phone-shared-model")
    with visitor.expect_download() as download_info:
        visitor.get_by_role("link", name="Download model").click()
    assert download_info.value.path().read_bytes() == bytes(model_version.model_file)

    # Revoked from the gallery page: the visitor's link is dead at once, the
    # model's link still works.
    owner_page.goto(f"/galleries/{gallery.pk}/")
    owner_page.get_by_role("button", name="Revoke").click()
    expect(owner_page.locator("#no-share-links")).to_be_visible()
    response = visitor.goto(gallery_url)
    assert response is not None
    assert response.status == 404
    browser.forget_errors("404")
    response = visitor.goto(model_url)
    assert response is not None
    assert response.status == 200
