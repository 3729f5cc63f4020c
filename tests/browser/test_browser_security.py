"""The Content-Security-Policy in a real browser: pages that rely on scripts and
the API docs work with it, and nothing is refused (a refusal is a console error,
which the browser fixture turns into a failure)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_under_the_policy(browser: Any, stack: Any) -> None:
    page = browser.new_page()
    response = page.goto("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "MNIST KDE Studio API", timeout=30_000
    )
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    browser.screenshot(page, "api-docs")


def test_a_locked_log_in_says_so(browser: Any, stack: Any, settings: Any) -> None:
    from django.contrib.auth.models import User

    User.objects.create_user("mallory-target", password="the-right-password-1")
    page = browser.new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto("/login/")
        page.get_by_label("Username").fill("mallory-target")
        page.get_by_label("Password").fill("a-wrong-guess")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many failed log-ins for this account or from your address"
    )
    browser.forget_errors("429")
    browser.screenshot(page, "login-locked")
