"""Pages in headless Chromium: bytes transferred and load time.

The job page of a finished 256-image generation job and the page of its gallery
(8x8 images of the demo model, trained on ``digits``), and the page of a
256-image gallery of 28x28 MNIST images (the ``sharp`` preset, trained here with
a fixed bandwidth: the search is no part of this), each loaded ``--repeats``
times (5) in a fresh browser context (nothing cached) and once more reloaded (the
browser's cache warm), logged in as its owner, against gunicorn and a Celery
worker (bench.generation's stack) on DATABASE_URL and REDIS_URL; beside them the
floor, the log-in page (the base layout with its stylesheet and script) loaded
anonymously the same way. Load time is the navigation's ``loadEventEnd`` (images
included), beside its ``responseEnd`` (the document alone, received); bytes are
the transfer sizes of the document and every resource.

Then what a user waits for after clicking Generate: on the demo model's page, 16
images, ``--clicks`` times (20), from the click to the job page saying
``succeeded`` (the form's POST, the redirect, the job page and its polls), and
how many of those jobs had already finished when the server drew their page.

    python -m bench.pages [--repeats 5] [--clicks 20]

MNIST must be in data/ (``python -m generator fetch mnist``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.generation import BENCH_ENV, one_job, percentile, stack, trained_model
from bench.load import REPO, call, prepare, require_services

# A model of 28x28 images without the bandwidth search (seconds, not a minute).
MNIST_TRAINING = {"name": "bench pages", "preset": "sharp", "bandwidth": 0.6}
TRAINING_TIMEOUT_SECONDS = 300

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-" + uuid.uuid4().hex
MEASURE = """() => {
  const [navigation] = performance.getEntriesByType("navigation");
  const resources = performance.getEntriesByType("resource");
  return {
    milliseconds: navigation.loadEventEnd - navigation.startTime,
    document: navigation.responseEnd - navigation.startTime,
    bytes: [navigation, ...resources].reduce((sum, e) => sum + e.transferSize, 0),
    resources: resources.length,
  };
}"""
JOB_PAGE = re.compile(r"/jobs/[0-9a-f-]{36}/$")
SUCCEEDED = (
    "() => document.getElementById('job-state').textContent.includes('succeeded')"
)
# The state the server drew the page with, whatever the page's polls said since.
DRAWN_STATE = "() => JSON.parse(document.getElementById('job-data').textContent).state"
# Chromium keeps 250 resource timings by default: more would go uncounted.
TIMING_BUFFER = "performance.setResourceTimingBufferSize(100000);"


@dataclass(frozen=True)
class PageLoad:
    name: str
    cold_ms: list[float]
    document_ms: list[float]
    warm_ms: float
    cold_bytes: int
    warm_bytes: int
    resources: int

    def line(self) -> str:
        return (
            f"{self.name:<26} cold: median {statistics.median(self.cold_ms):6.0f} ms "
            f"(min {min(self.cold_ms):.0f}, max {max(self.cold_ms):.0f}; "
            f"document {statistics.median(self.document_ms):.0f}), "
            f"{self.cold_bytes / 1024:6.0f} KiB in {self.resources + 1} requests; "
            f"reloaded: {self.warm_ms:5.0f} ms, {self.warm_bytes / 1024:5.0f} KiB"
        )


@dataclass(frozen=True)
class ClicksToImages:
    milliseconds: list[float]
    finished_when_drawn: int

    def line(self) -> str:
        ms = self.milliseconds
        return (
            f"{'Generate -> succeeded':<26} median {statistics.median(ms):6.0f} ms, "
            f"mean {statistics.mean(ms):.0f}, p90 {percentile(ms, 0.9):.0f}, max "
            f"{max(ms):.0f} over {len(ms)} clicks; {self.finished_when_drawn} jobs "
            "had finished when the server drew their page"
        )


def owner_with_password(token: str) -> tuple[str, str]:
    """Give the token's user a password: its username and its new token (a new
    password revokes the old one)."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.get(auth_token__key=token)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user.username, Token.objects.get_or_create(user=user)[0].key


def log_in(browser: Any, base_url: str, username: str) -> Any:
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/login/" not in url)
    cookies = context.cookies()
    context.close()
    return cookies


def load(
    browser: Any, base_url: str, cookies: Any, path: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A cold load in a fresh context, then a reload: the two measurements."""
    context = browser.new_context(base_url=base_url)
    context.add_init_script(TIMING_BUFFER)
    context.add_cookies(cookies)
    try:
        page = context.new_page()
        page.goto(path, wait_until="load")
        cold = page.evaluate(MEASURE)
        page.reload(wait_until="load")
        warm = page.evaluate(MEASURE)
        return cold, warm
    finally:
        context.close()


def clicks_to_images(
    browser: Any, base_url: str, cookies: Any, model_id: int, clicks: int
) -> ClicksToImages:
    """Generate clicked ``clicks`` times on a model's page: click -> job page
    saying succeeded, each."""
    context = browser.new_context(base_url=base_url)
    context.add_cookies(cookies)
    page = context.new_page()
    milliseconds, finished_when_drawn = [], 0
    try:
        for _ in range(clicks):
            page.goto(f"/models/{model_id}/")
            page.get_by_label("Number of images").fill("16")
            started = time.perf_counter()
            page.get_by_role("button", name="Generate", exact=True).click()
            page.wait_for_url(JOB_PAGE, wait_until="domcontentloaded")
            drawn = page.evaluate(DRAWN_STATE)
            page.wait_for_function(SUCCEEDED, polling="raf", timeout=60_000)
            milliseconds.append(1e3 * (time.perf_counter() - started))
            finished_when_drawn += drawn == "succeeded"
    finally:
        context.close()
    return ClicksToImages(milliseconds, finished_when_drawn)


def measure(repeats: int, clicks: int = 20) -> list[PageLoad | ClicksToImages]:
    from playwright.sync_api import sync_playwright

    os.environ.update(BENCH_ENV)
    tokens, public_model = prepare(1)
    username, token = owner_with_password(tokens[0])
    demo_model = trained_model(public_model)
    body: dict[str, object] = {"model_version": demo_model, "n_images": 256}
    with stack(1) as running_stack:
        base_url = running_stack.base_url
        job_id = one_job(running_stack, token, body).job_id
        mnist_body: dict[str, object] = {
            "model_version": train(base_url, token),
            "n_images": 256,
        }
        mnist_job_id = one_job(running_stack, token, mnist_body).job_id
        galleries = [
            call(base_url, "GET", f"/api/v1/jobs/{job}", token=token).body["gallery"]
            for job in (job_id, mnist_job_id)
        ]
        # After every ORM call: Django refuses them beside Playwright's event loop.
        with sync_playwright() as playwright:
            results = _load_pages(
                playwright,
                base_url,
                username,
                job_id,
                galleries,
                repeats,
                (demo_model, clicks),
            )
    return results


def train(base_url: str, token: str) -> int:
    """Train `MNIST_TRAINING` through the API: its model version's id."""
    answer = call(
        base_url, "POST", "/api/v1/training-runs", token=token, body=MNIST_TRAINING
    )
    if answer.status != 202:
        raise RuntimeError(f"training refused: {answer.status} {answer.body}")
    path = f"/api/v1/jobs/{answer.body['id']}"
    deadline = time.monotonic() + TRAINING_TIMEOUT_SECONDS
    while (job := call(base_url, "GET", path, token=token).body)["state"] in (
        "queued",
        "running",
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still {job['state']}")
        time.sleep(0.5)
    if job["state"] != "succeeded":
        raise RuntimeError(f"the MNIST training ended {job['state']}: {job['error']}")
    return int(job["model_version"])


def _load_pages(
    playwright: Any,
    base_url: str,
    username: str,
    job_id: str,
    galleries: list[int],
    repeats: int,
    generations: tuple[int, int],
) -> list[PageLoad | ClicksToImages]:
    """The pages' loads, then ``generations``: a model's id and how many times to
    click Generate on its page (`clicks_to_images`)."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    cookies = log_in(browser, base_url, username)
    results: list[PageLoad | ClicksToImages] = []
    pages: tuple[tuple[str, str, Any], ...] = (
        ("log-in page (floor)", "/login/", []),
        ("job page", f"/jobs/{job_id}/", cookies),
        ("256-image gallery, 8x8", f"/galleries/{galleries[0]}/", cookies),
        ("256-image gallery, MNIST", f"/galleries/{galleries[1]}/", cookies),
    )
    for name, path, page_cookies in pages:
        runs = [load(browser, base_url, page_cookies, path) for _ in range(repeats)]
        cold, warm = runs[-1]
        results.append(
            PageLoad(
                name=name,
                cold_ms=[run[0]["milliseconds"] for run in runs],
                document_ms=[run[0]["document"] for run in runs],
                warm_ms=warm["milliseconds"],
                cold_bytes=cold["bytes"],
                warm_bytes=warm["bytes"],
                resources=cold["resources"],
            )
        )
    results.append(clicks_to_images(browser, base_url, cookies, *generations))
    browser.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args(argv)
    require_services(parser)
    for result in measure(args.repeats, args.clicks):
        print(result.line())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
