"""Issue 10's journeys in headless Chromium against the live server and a real
Celery worker: managing one's runs, the live pages, logging out, the site's own
error pages, and every page at a phone's width (390 px). Every page visited is
saved to artifacts/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_support import PHONE, no_sideways_scroll, wait_for_images
from tests.browser.test_browser_scenarios import (
    JOB_TIMEOUT_MS,
    assert_not_reloaded,
    images_loaded,
    mark_page,
    sign_up,
    wait_for_state,
)
from webapp.gallery.models import Gallery
from webapp.jobs.models import Job, ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def queue_preview(page: Page, name: str, **fields: str) -> None:
    """Queue the fast preview preset with some fields changed; wait for success."""
    page.goto("/training/new/?preset=preview")
    page.get_by_label("Name").fill(name)
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Queue training run").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    wait_for_state(page, "succeeded")


def header_height(page: Page) -> float:
    header = page.locator(".site-header .container").bounding_box()
    assert header is not None
    return float(header["height"])


def test_managing_runs_from_the_pages(browser: Any, stack: Any) -> None:
    page = browser.new_page()
    sign_up(page, "grace")

    # A search grid whose lowest value wins: the job page flags it as soon as
    # the job succeeds, without a reload.
    page.goto("/training/new/?preset=preview")
    page.get_by_label("Name").fill("batch 13")
    page.get_by_label("Smallest bandwidth").fill("2")
    page.get_by_label("Largest bandwidth").fill("10")
    page.get_by_label("Bandwidths tried").fill("3")
    page.get_by_role("button", name="Queue training run").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    mark_page(page)
    wait_for_state(page, "succeeded")
    flag = page.locator("#grid-edge")
    expect(flag).to_be_visible()
    expect(flag).to_contain_text("2 is the smallest value tried")
    assert_not_reloaded(page)
    browser.screenshot(page, "30-job-grid-edge")
    job_url = page.url

    # One click: the form with the same settings and a grid a decade wider.
    flag.get_by_role("link", name="Search a wider grid").click()
    expect(page.locator("#prefill-note")).to_contain_text("a wider bandwidth grid")
    expect(page.get_by_label("Smallest bandwidth")).to_have_value("0.2")
    expect(page.get_by_label("Largest bandwidth")).to_have_value("10")
    expect(page.get_by_label("Bandwidths tried")).to_have_value("6")
    expect(page.get_by_label("Name")).to_have_value("batch 13")
    browser.screenshot(page, "31-form-wider-grid")
    page.get_by_label("Name").fill("batch 7")
    page.get_by_role("button", name="Queue training run").click()
    wait_for_state(page, "succeeded")

    # Rename the first job; run it again from its page.
    page.goto(job_url)
    page.locator("summary", has_text="Rename").click()
    page.get_by_label("New name").fill("batch 100")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="batch 100", exact=True)).to_be_visible()
    expect(page.get_by_text("Job renamed “batch 100”.")).to_be_visible()
    page.get_by_role("link", name="Run again…").click()
    expect(page.locator("#prefill-note")).to_contain_text("to run again")
    expect(page.get_by_label("Smallest bandwidth")).to_have_value("2")
    expect(page.get_by_label("Name")).to_have_value("batch 100")

    # History sorts the names naturally: 7, 13... then 100.
    page.goto("/history/?tab=models&sort=name")
    names = page.locator("tbody th a").all_inner_texts()
    assert [name.split(" v")[0] for name in names] == ["batch 7", "batch 13"]
    browser.screenshot(page, "32-history-natural-sort")

    # "Draw new ones" draws in place.
    page.get_by_role("link", name=re.compile("^batch 7")).click()
    expect(page.locator("#model-samples img")).to_have_count(16)
    wait_for_images(page.locator("#model-samples img"))
    before = page.eval_on_selector_all("#model-samples img", "i => i.map(x => x.src)")
    mark_page(page)
    page.get_by_role("link", name="Draw new ones").click()
    expect(page.locator("#samples-status")).to_have_text("New samples drawn.")
    after = page.eval_on_selector_all("#model-samples img", "i => i.map(x => x.src)")
    assert len(after) == 16
    assert after != before
    assert images_loaded(page, "#model-samples") == 16
    assert_not_reloaded(page)
    browser.screenshot(page, "33-model-new-samples")

    # Delete the default model version: a page says what happens first.
    page.get_by_role("button", name="Set as default").click()
    expect(page.locator("#default-badge")).to_be_visible()
    model_url = page.url
    page.get_by_role("link", name="Delete…").click()
    expect(
        page.get_by_role("heading", name="Delete the model version batch 7 v2?")
    ).to_be_visible()
    expect(page.locator(".consequences")).to_contain_text(
        "your newest other one, batch 13 v1, becomes the default"
    )
    browser.screenshot(page, "34-confirm-delete-model")
    page.get_by_role("link", name="Keep it").click()
    expect(page).to_have_url(model_url)
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete").click()
    expect(
        page.get_by_text("batch 7 v2 deleted. batch 13 v1 is now your default model.")
    ).to_be_visible()
    assert list(ModelVersion.objects.values_list("name", "is_default")) == [
        ("batch 13", True)
    ]
    browser.screenshot(page, "35-model-deleted")

    # Log out: the header's button, and GET /logout/ asks with a button.
    page.goto("/logout/")
    expect(page.get_by_role("heading", name="Log out?")).to_be_visible()
    browser.screenshot(page, "36-logout-page")
    page.locator("main").get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))


def test_the_dashboard_counts_and_a_queued_message_follow_the_jobs(
    browser: Any, stack: Any, browser_worker: Any
) -> None:
    import signal

    page = browser.new_page()
    sign_up(page, "hopper")
    page.goto("/dashboard/")
    expect(page.locator("#count-queued")).to_have_text("0")
    expect(page.get_by_text("Nothing has run yet")).to_be_visible()
    mark_page(page)
    jobs = page.locator("#recent-jobs tr[data-job-id]")
    # A job queued elsewhere (the API, another tab) moves the counts live, and
    # the list of recent jobs with them.
    browser_worker.signal_children(signal.SIGSTOP)
    try:
        other_tab = page.context.new_page()
        other_tab.goto("/training/new/?preset=preview")
        other_tab.get_by_role("button", name="Queue training run").click()
        expect(other_tab).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
        expect(page.locator("#count-queued")).to_have_text("1")
        expect(jobs).to_have_count(1)
        expect(jobs.locator("[data-state-badge]")).to_have_text("queued")
        expect(page.get_by_text("Nothing has run yet")).to_have_count(0)
        browser.screenshot(page, "37-dashboard-live-counts")
    finally:
        browser_worker.signal_children(signal.SIGCONT)
    expect(page.locator("#count-models")).to_have_text("1", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#count-queued")).to_have_text("0")
    # The swapped-in row follows its job to the end.
    expect(jobs.locator("[data-state-badge]")).to_have_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    # The job's page no longer says "queued" once the job has ended.
    expect(other_tab.locator("#job-state")).to_contain_text("succeeded")
    expect(other_tab.locator("[data-queued-message]")).to_have_count(0)
    # A gallery made in the other tab joins the dashboard's latest galleries.
    expect(page.get_by_text("No galleries yet")).to_be_visible()
    other_tab.get_by_role("link", name="Open the model version").click()
    other_tab.get_by_label("Number of images").fill("4")
    other_tab.get_by_role("button", name="Generate", exact=True).click()
    wait_for_state(other_tab, "succeeded")
    expect(page.locator("#count-galleries")).to_have_text("1")
    expect(page.locator("#latest-galleries .gallery-list li")).to_have_count(1)
    expect(jobs).to_have_count(2)
    # And a job deleted elsewhere leaves the list.
    Job.objects.filter(owner__username="hopper", kind=Job.Kind.TRAINING).delete()
    expect(jobs).to_have_count(1)
    assert_not_reloaded(page)


def test_errors_and_data_sets_are_explained(browser: Any, stack: Any) -> None:
    page = browser.new_page()
    response = page.goto("/jobs/00000000-0000-0000-0000-000000000000/")
    assert response is not None
    # Anonymous: the login page first.
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    sign_up(page, "lovelace")
    response = page.goto("/no/such/page/")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text("URLconf")).to_have_count(0)
    browser.screenshot(page, "38-page-not-found")
    browser.forget_errors("404")

    # The form offers each data set with its state on this server.
    page.goto("/training/new/")
    options = page.locator("#id_dataset option").all_inner_texts()
    assert options[2] == "digits (ready)"
    assert options[1].startswith("fashion-mnist (")
    expect(page.locator(".dataset-states")).to_contain_text("fashion-mnist")
    # A preset's 10,000 training images shrink to fit the 8x8 digits, and back.
    expect(page.get_by_label("Training images")).to_have_value("10000")
    page.get_by_label("Data set").select_option("digits")
    expect(page.get_by_label("Training images")).to_have_value("1438")
    page.get_by_label("Data set").select_option("mnist")
    expect(page.get_by_label("Training images")).to_have_value("10000")
    page.get_by_label("Data set").select_option("digits")
    page.get_by_label("PCA components or variance fraction").fill("16")
    page.get_by_label("Cross-validation folds").fill("3")
    page.get_by_label("Bandwidths tried").fill("4")
    browser.screenshot(page, "39-form-data-sets")
    page.get_by_role("button", name="Queue training run").click()
    wait_for_state(page, "succeeded")
    job = Job.objects.get(owner__username="lovelace")
    assert job.params["n_train"] == 1438


def test_every_page_fits_a_phone(browser: Any, stack: Any, browser_worker: Any) -> None:
    page = browser.new_page(**PHONE)
    # The header is one row: the brand beside "Log in" and "Sign up", and once
    # signed in beside the menu button.
    page.goto("/")
    assert header_height(page) < 64
    browser.screenshot(page, "54-phone-landing")
    sign_up(page, "phone")
    assert header_height(page) < 64
    expect(page.locator("#site-menu")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="History")).to_be_visible()
    browser.screenshot(page, "40-phone-menu-open")

    queue_preview(page, "phone run")
    browser.screenshot(page, "41-phone-job")
    page.get_by_role("link", name="Open the model version").click()
    expect(page.locator("#plot-variance svg.chart")).to_be_visible()
    model_url = page.url
    # Chart text is drawn at least 10 px high.
    tick_heights = page.eval_on_selector_all(
        "#plot-variance .chart-tick",
        "ts => ts.map(t => t.getBoundingClientRect().height)",
    )
    assert min(tick_heights) >= 10
    browser.screenshot(page, "42-phone-model")
    page.get_by_label("Number of images").fill("24")
    page.get_by_role("button", name="Generate", exact=True).click()
    wait_for_state(page, "succeeded")
    # The job page's sheet of the images fits the phone's width, 8 images a row:
    # three rows of 56-pixel tiles 2 pixels apart, each drawn at least 30 px wide
    # (16 a row would be about 17).
    sheet = page.locator("#job-result-sheet")
    expect(sheet).to_be_visible()
    wait_for_images(sheet, loaded=True)
    assert sheet.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [462, 172]
    assert sheet.evaluate("img => img.getBoundingClientRect().width") / 8 >= 30
    assert no_sideways_scroll(page)
    browser.screenshot(page, "42-phone-generation-succeeded")
    page.get_by_role("link", name="Open the gallery").click()
    # The gallery first: the job page, still showing, has no images to fail below.
    expect(page.locator("#gallery-images img")).to_have_count(24)
    wait_for_images(page.locator("#gallery-images img"), loaded=True)
    # At least four images a row.
    tops = page.eval_on_selector_all(
        "#gallery-images li",
        "items => items.slice(0, 4).map(i => i.getBoundingClientRect().top)",
    )
    assert len(set(tops)) == 1
    browser.screenshot(page, "43-phone-gallery")
    gallery = Gallery.objects.get(owner__username="phone")

    pages = {
        "44-phone-dashboard": "/dashboard/",
        "45-phone-history-runs": "/history/?kind=all",
        "46-phone-history-models": "/history/?tab=models",
        "47-phone-history-galleries": "/history/?tab=galleries",
        "48-phone-training-form": "/training/new/",
        "49-phone-token": "/account/token/",
        "50-phone-compare-picker": "/compare/",
        "51-phone-model": model_url,
        "52-phone-gallery": f"/galleries/{gallery.pk}/",
        "53-phone-logout": "/logout/",
    }
    for name, url in pages.items():
        page.goto(url)
        assert no_sideways_scroll(page), url
        browser.screenshot(page, name)
    # Tables are stacked rows, each cell labelled.
    page.goto("/history/?kind=all")
    row = page.locator("[data-live-jobs] tbody tr").first
    expect(row.locator("td[data-label='State']")).to_be_visible()
    display = row.evaluate("tr => getComputedStyle(tr).display")
    assert display == "block"
    # The token and the curl example wrap instead of running off the screen.
    page.goto("/account/token/")
    for selector in ("#api-token", "pre.code"):
        assert page.eval_on_selector(selector, "e => e.scrollWidth <= e.clientWidth"), (
            selector
        )
