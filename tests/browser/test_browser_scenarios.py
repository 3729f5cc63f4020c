"""Issue 4's scenarios in headless Chromium against the live server and a real
Celery worker. Every page visited is saved to artifacts/screenshots/."""

from __future__ import annotations

import io
import itertools
import re
import signal
import zipfile
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.browser.browser_support import wait_for_images
from webapp.jobs.models import Job, ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-password-4242"
JOB_TIMEOUT_MS = 120_000


def sign_up(page: Page, username: str) -> None:
    page.goto("/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/training/new/\?preset=preview$"))


def images_loaded(page: Page, selector: str) -> int:
    """How many images under ``selector`` have finished loading real pixels."""
    return int(
        page.eval_on_selector_all(
            selector + " img",
            "images => images.filter(i => i.complete && i.naturalWidth > 0).length",
        )
    )


def wait_for_state(page: Page, state: str) -> None:
    expect(page.locator("#job-state")).to_contain_text(state, timeout=JOB_TIMEOUT_MS)


def mark_page(page: Page) -> None:
    # A reload or navigation would drop this property; its survival proves the
    # page updated itself.
    page.evaluate("window.__studioMark = 'still here'")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__studioMark") == "still here"


def test_a_new_user_trains_generates_and_downloads(
    browser: Any, stack: Any, browser_worker: Any
) -> None:
    page = browser.new_page()

    page.goto("/")
    expect(page.get_by_role("heading", name="No demo model yet")).to_be_visible()
    browser.screenshot(page, "01-landing-no-demo-model")

    sign_up(page, "ada")
    browser.screenshot(page, "02-training-form-preview-preset")

    # The presets fill the form in place from the server-rendered values.
    page.get_by_role("link", name="The original notebook").click()
    expect(page.get_by_label("Data set")).to_have_value("mnist")
    expect(page.get_by_label("Training images")).to_have_value("10000")
    page.get_by_role("link", name="Fast preview on digits").click()
    expect(page.get_by_label("Data set")).to_have_value("digits")
    expect(
        page.get_by_label("Class-conditional (one density per digit)")
    ).to_be_checked()
    page.get_by_label("Name").fill("ada's digits")

    # Hold the worker's pool so the job is seen queued, then let it go.
    browser_worker.signal_children(signal.SIGSTOP)
    try:
        page.get_by_role("button", name="Queue training run").click()
        expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
        mark_page(page)
        wait_for_state(page, "queued")
        expect(page.locator("#job-queue")).to_have_text("#1 in the training queue")
        expect(page.locator("#job-elapsed")).to_contain_text("waiting for")
        browser.screenshot(page, "03-job-queued")
    finally:
        browser_worker.signal_children(signal.SIGCONT)

    wait_for_state(page, "succeeded")
    assert_not_reloaded(page)
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")
    expect(page.locator("#job-phase")).to_have_text("Finished")
    expect(page.locator("#cancel-form")).to_be_hidden()
    # "queued" no longer holds once the job has ended.
    expect(page.get_by_text("Training run “ada's digits” queued.")).to_have_count(0)
    browser.screenshot(page, "04-job-succeeded")

    page.get_by_role("link", name="Open the model version").click()
    expect(page).to_have_url(re.compile(r"/models/\d+/$"))
    expect(page.locator("#plot-variance svg.chart")).to_be_visible()
    expect(page.locator("#plot-cv svg.chart")).to_be_visible()
    # The dashed marker and its legend swatch (a zero-width line is "hidden").
    expect(page.locator("#plot-cv line.chart-marker")).to_have_count(2)
    expect(page.locator("#plot-cv svg.chart")).to_contain_text("chosen bandwidth")
    expect(page.locator("#plot-variance svg.chart")).to_contain_text(
        "Principal components kept"
    )
    expect(page.get_by_text("Your default")).to_be_visible()
    assert images_loaded(page, "#model-samples") == 16
    browser.screenshot(page, "05-model-version")
    model_url = page.url

    page.get_by_label("Number of images").fill("16")
    page.get_by_label("Digit").select_option("7")
    page.get_by_label("Seed").fill("11")
    # The worker paused: the job page is drawn before the job is done, so its
    # images come from the page's polls.
    browser_worker.signal_children(signal.SIGSTOP)
    try:
        page.get_by_role("button", name="Generate", exact=True).click()
        expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
        expect(page.locator("#job-state")).to_contain_text("queued")
        expect(page.locator("#job-result-sheet")).to_be_hidden()
    finally:
        browser_worker.signal_children(signal.SIGCONT)
    wait_for_state(page, "succeeded")
    # Its 16 images, one row of 56-pixel tiles 2 pixels apart, where it says done.
    sheet = page.locator("#job-result-sheet")
    expect(sheet).to_be_visible()
    wait_for_images(sheet, loaded=True)
    assert sheet.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [926, 56]
    # The poll set a phone's too.
    srcset = page.locator("#job-result-sheet-narrow").get_attribute("srcset")
    assert re.fullmatch(
        r"/api/v1/galleries/[1-9]\d*/grid\.png\?columns=8", srcset or ""
    )
    browser.screenshot(page, "06-generation-succeeded")

    page.get_by_role("link", name="Open the gallery").click()
    expect(page).to_have_url(re.compile(r"/galleries/\d+/$"))
    expect(page.get_by_role("heading", name="16 images of digit 7")).to_be_visible()
    expect(page.locator("#gallery-images img")).to_have_count(16)
    expect(page.locator("#gallery-images img")).to_have_count(16)
    wait_for_images(page.locator("#gallery-images img"), loaded=True)
    # The figures come from their own task after the images; the page polls for
    # them (it shows "Evaluating…" until then) and shows them without a click.
    expect(page.locator("#quality")).to_contain_text(
        "Recognised as digit 7", timeout=15_000
    )
    expect(page.locator("#evaluation-pending")).to_have_count(0)
    browser.screenshot(page, "07-gallery")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download ZIP").click()
    download = download_info.value
    assert re.fullmatch(r"gallery-\d+\.zip", download.suggested_filename)
    with open(download.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    names = archive.namelist()
    assert len([name for name in names if name.endswith(".png")]) == 16
    assert "gallery.json" in names
    assert all("digit-7" in name for name in names if name.endswith(".png"))

    # Bad values: the API's messages on the fields, nothing queued.
    jobs_before = Job.objects.count()
    page.goto("/training/new/?preset=preview")
    page.get_by_label("PCA components or variance fraction").fill("0")
    page.get_by_label("Cross-validation folds").fill("1")
    page.get_by_label("Training images").fill("100000")
    page.get_by_role("button", name="Queue training run").click()
    # Every bad field at once, each message naming the field by its label.
    expect(page.locator("#id_n_components_errors")).to_contain_text(
        "PCA components must be an integer from 1 to 64"
    )
    expect(page.locator("#id_cv_folds_errors")).to_contain_text(
        "Cross-validation folds must be an integer from 2 to 10"
    )
    expect(page.locator("#id_n_train_errors")).to_contain_text(
        "Training images must be"
    )
    expect(page.get_by_role("alert")).to_contain_text("correct the highlighted")
    # The first refused field in the page gets the keyboard focus.
    expect(page.locator("#id_n_train")).to_be_focused()
    browser.screenshot(page, "08-training-form-errors")
    assert Job.objects.count() == jobs_before
    # The refused form comes back as a 400, which the console reports.
    browser.forget_errors("status of 400")

    # Fixing them queues a second, different model for the compare page.
    page.get_by_label("PCA components or variance fraction").fill("10")
    page.get_by_label("Training images").fill("800")
    page.get_by_label("Kernel", exact=True).select_option("epanechnikov")
    page.get_by_label("Cross-validation folds").fill("3")
    page.get_by_label("Name").fill("epanechnikov ten")
    page.get_by_role("button", name="Queue training run").click()
    wait_for_state(page, "succeeded")
    assert Job.objects.count() == jobs_before + 1

    page.goto("/history/?tab=models")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.locator("input[name=ids]").nth(0).check()
    page.locator("input[name=ids]").nth(1).check()
    browser.screenshot(page, "09-history-model-versions")
    page.get_by_role("button", name="Compare selected").click()
    expect(
        page.get_by_role("heading", name="Comparing 2 model versions")
    ).to_be_visible()
    expect(page.locator("tr.is-different").first).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(2)
    browser.screenshot(page, "10-compare")

    page.goto("/history/")
    expect(page.locator("[data-live-jobs] tbody tr")).to_have_count(2)
    browser.screenshot(page, "11-history-runs")
    page.goto("/history/?tab=galleries")
    browser.screenshot(page, "12-history-galleries")
    page.goto("/dashboard/")
    expect(page.locator("#count-queued")).to_have_text("0")
    # The old app's POST /generate, from the default model, as a logged-in user
    # (session authentication: the CSRF token must go along).
    expect(page.locator("#demo-images img")).to_have_count(8)
    page.get_by_label("Images", exact=True).select_option("4")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#demo-status")).to_contain_text("Generated 4 new images")
    expect(page.locator("#demo-images img")).to_have_count(4)
    browser.screenshot(page, "13-dashboard")
    page.goto("/account/token/")
    expect(page.locator("#api-token")).to_have_value(re.compile(r"^[0-9a-f]{40}$"))
    browser.screenshot(page, "14-api-token")
    page.goto("/account/password/")
    browser.screenshot(page, "15-change-password")
    page.goto(model_url)
    page.set_viewport_size({"width": 390, "height": 844})
    browser.screenshot(page, "16-model-version-mobile")

    # A second user sees none of this.
    first_job = Job.objects.filter(owner__username="ada").first()
    assert first_job is not None
    other = browser.new_page()
    sign_up(other, "bob")
    other.goto("/dashboard/")
    expect(other.get_by_text("Nothing has run yet")).to_be_visible()
    expect(other.get_by_text("ada's digits")).to_have_count(0)
    browser.screenshot(other, "17-second-user-dashboard")
    other.goto("/history/?kind=all")
    expect(other.get_by_text("No training runs yet")).to_be_visible()
    response = other.goto(f"/jobs/{first_job.pk}/")
    assert response is not None
    assert response.status == 404
    browser.forget_errors("404")


def test_the_anonymous_landing_page_generates_images(
    browser: Any, stack: Any, django_user_model: Any, make_model_version: Any
) -> None:
    demo_owner = django_user_model.objects.create_user(username="demo")
    make_model_version(demo_owner, is_public=True)
    page = browser.new_page()
    page.goto("/")
    expect(page.locator("#demo-images img")).to_have_count(8)
    first_sources = page.eval_on_selector_all(
        "#demo-images img", "images => images.map(i => i.src)"
    )
    page.get_by_label("Images").select_option("16")
    mark_page(page)
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#demo-status")).to_contain_text("Generated 16 new images")
    expect(page.locator("#demo-images img")).to_have_count(16)
    assert_not_reloaded(page)
    assert images_loaded(page, "#demo-images") == 16
    sources = page.eval_on_selector_all(
        "#demo-images img", "images => images.map(i => i.src)"
    )
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert sources[:8] != first_sources
    browser.screenshot(page, "18-landing-generated")
    page.set_viewport_size({"width": 390, "height": 844})
    browser.screenshot(page, "19-landing-mobile")

    page.goto("/login/")
    browser.screenshot(page, "20-login-mobile")


def test_cancel_a_queued_job_from_its_page(
    browser: Any, stack: Any, browser_worker: Any
) -> None:
    page = browser.new_page()
    sign_up(page, "cyril")
    browser_worker.signal_children(signal.SIGSTOP)
    try:
        page.get_by_role("button", name="Queue training run").click()
        mark_page(page)
        wait_for_state(page, "queued")
        # Only a finished job can be deleted or run again.
        expect(page.get_by_role("link", name="Delete…")).to_be_hidden()
        expect(page.get_by_role("link", name="Run again…")).to_be_hidden()
        # Cancelling asks first; keeping it changes nothing.
        page.get_by_role("button", name="Cancel job").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Cancel this job?")
        browser.screenshot(page, "21-job-cancel-confirmation")
        dialog.get_by_role("button", name="No, keep it running").click()
        expect(dialog).to_have_count(0)
        expect(page.locator("#job-state")).to_contain_text("queued")
        page.get_by_role("button", name="Cancel job").click()
        page.get_by_role("dialog").get_by_role("button", name="Yes, cancel it").click()
        wait_for_state(page, "cancelled")
        expect(page.locator("#cancel-form")).to_be_hidden()
        expect(page.get_by_role("link", name="Delete…")).to_be_visible()
        assert_not_reloaded(page)
        browser.screenshot(page, "22-job-cancelled")
    finally:
        browser_worker.signal_children(signal.SIGCONT)
    job = Job.objects.get(owner__username="cyril")
    assert job.state == Job.State.CANCELLED
    assert not ModelVersion.objects.filter(owner__username="cyril").exists()


# Each call of the job page's API, at the page's (fake) time.
RECORD_POLLS = """
window.__polls = [];
const fetchOriginal = window.fetch;
window.fetch = function (url, options) {
  if (String(url).includes("/api/v1/jobs/")) {
    window.__polls.push(Date.now());
  }
  return fetchOriginal.call(this, url, options);
};
"""


def test_the_job_page_asks_at_once_then_less_and_less_often(
    browser: Any, stack: Any, make_job: Any
) -> None:
    page = browser.new_page()
    sign_up(page, "dijkstra")
    # Never sent to a broker: it stays queued, so the page keeps asking.
    job = make_job(User.objects.get(username="dijkstra"))
    page.clock.install(time=0)
    page.clock.pause_at(10_000)
    page.add_init_script(RECORD_POLLS)
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator("#job-state")).to_contain_text("queued")
    drawn = page.evaluate("Date.now()")
    polls: list[int] = []
    # The page's clock moves only here, 10 ms a step; each poll's answer arrives
    # in real time, and only then is the next one timed, so a gap can come out
    # longer than the page asked for, never shorter.
    while len(polls) < 8:
        page.clock.run_for(10)
        polls = page.evaluate("window.__polls")
        assert page.evaluate("Date.now()") - drawn < 60_000, polls
    # A job just submitted is often done within a fraction of a second: the page
    # asks as soon as it is drawn, then 100 ms later, each time twice as late,
    # up to once a second.
    assert polls[0] == drawn
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    assert all(
        gap >= least
        for gap, least in zip(gaps, [100, 200, 400, 800, 1000, 1000, 1000], strict=True)
    ), gaps
