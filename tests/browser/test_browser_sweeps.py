"""A parameter sweep in headless Chromium against the live server and a real
Celery worker: the training form's sweep mode, the sweep's live table, sorting,
comparing the top runs, sampling every run's model and making the best one the
default."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.browser_support import check_phone_width
from tests.browser.test_browser_scenarios import (
    JOB_TIMEOUT_MS,
    assert_not_reloaded,
    mark_page,
    sign_up,
)
from webapp.jobs.models import ModelVersion
from webapp.sweeps.models import Sweep

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_sweep_from_the_form_to_the_best_model(browser: Any, stack: Any) -> None:
    page = browser.new_page()
    sign_up(page, "sweeper")

    # Single-run mode hides the values to tick; the sweep mode shows them.
    values = page.locator("#sweep-values")
    expect(values).to_be_hidden()
    page.get_by_label("A parameter sweep").check()
    expect(values).to_be_visible()
    submit = page.locator("#training-submit")
    expect(submit).to_have_text("Queue parameter sweep")

    page.get_by_label("Name").fill("kernels and sizes")
    for name, value in [
        ("sweep_kernel", "gaussian"),
        ("sweep_kernel", "exponential"),
        ("sweep_n_components", "5"),
        ("sweep_n_components", "10"),
    ]:
        page.locator(f'input[name="{name}"][value="{value}"]').check()
    browser.screenshot(page, "60-training-form-sweep-mode")
    submit.click()

    expect(page).to_have_url(re.compile(r"/sweeps/[0-9a-f-]{36}/$"))
    sweep = Sweep.objects.get()
    mark_page(page)
    table = page.locator("#sweep-table tbody tr")
    expect(table).to_have_count(4)
    expect(page.locator("#sweep-state")).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    assert_not_reloaded(page)
    expect(page.locator("#sweep-finished")).to_have_text("4")
    expect(page.locator("#sweep-cancel-form")).to_be_hidden()
    expect(page.locator("tr.is-best #best-badge")).to_have_text("best")
    # Every column, the sample confidence last, fits a laptop's width unscrolled.
    expect(page.locator("#sweep-table thead th").last).to_contain_text(
        "Sample confidence"
    )
    assert page.eval_on_selector(
        "#sweep-table",
        "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth",
    )
    browser.screenshot(page, "61-sweep-finished")
    check_phone_width(browser, page, "64-phone-sweep")

    # Sorting by a varied setting, then back down again.
    page.get_by_role("link", name="PCA components").click()
    cells = page.locator("#sweep-table tbody td[data-label='PCA components']")
    expect(cells).to_have_text(["5", "5", "10", "10"])
    page.get_by_role("link", name=re.compile(r"^PCA components ↑")).click()
    expect(cells).to_have_text(["10", "10", "5", "5"])

    # The best by another metric, then the top runs side by side.
    page.get_by_label("Best run by").select_option("explained_variance")
    page.get_by_role("button", name="Show").click()
    best_cell = page.locator("tr.is-best td[data-label='PCA components']")
    expect(best_cell).to_have_text("10")
    page.get_by_role("link", name="Compare the top runs").click()
    expect(page).to_have_url(re.compile(r"/compare/\?ids=\d+(,\d+){3}&submitted=1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Comparing 4 model versions"
    )
    browser.screenshot(page, "62-sweep-compare-top-runs")
    page.go_back()

    # The runs' models sampled in one click: the table stays live until each
    # gallery's evaluation has given its run a sample confidence.
    confidences = page.locator("#sweep-table tbody td[data-label='Sample confidence']")
    expect(confidences).to_have_text(["—"] * 4)
    page.get_by_role("button", name="Sample the 4 runs without it").click()
    expect(page.locator("ul.messages")).to_contain_text(
        "Queued a gallery of 64 images from 4 runs' models"
    )
    mark_page(page)
    expect(confidences).to_have_text(
        [re.compile(r"^\d+\.\d%$")] * 4, timeout=JOB_TIMEOUT_MS
    )
    assert_not_reloaded(page)
    expect(page.locator("#sweep-sample-form")).to_have_count(0)
    browser.screenshot(page, "65-sweep-sampled")
    # Still the best by variance kept, as the table was shown when sampled.
    expect(page.get_by_label("Best run by")).to_have_value("explained_variance")

    page.get_by_role("button", name="Make the best one my default").click()
    expect(page).to_have_url(re.compile(r"/models/\d+/$"))
    default = ModelVersion.objects.get(is_default=True)
    assert default.training_job.sweep_run.sweep == sweep
    assert default.metrics["n_components"] == 10

    page.goto("/sweeps/")
    expect(page.get_by_role("link", name="kernels and sizes")).to_be_visible()
    browser.screenshot(page, "63-sweeps-list")
