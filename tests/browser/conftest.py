"""Headless Chromium against the live server, with a real Celery worker.

The worker and broker plumbing is the integration tests' own
(tests/integration/integration_support.py). The fixtures here are module-scoped
rather than session-scoped on purpose: the browser worker is stopped and the
producer restored before the integration tests start theirs, so the two never
consume from the same Redis database at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser_support import wait_for_images
from tests.integration.integration_support import (
    REPO,
    RedisDatabases,
    WorkerProcess,
    flushed_test_redis,
    process_environment,
    producer_and_cache_on,
    running_worker,
    subprocess_database_url,
    wait_for,
)

SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser_redis() -> Iterator[RedisDatabases]:
    with flushed_test_redis("browser") as databases:
        yield databases


@pytest.fixture(scope="module")
def browser_database_url(django_db_setup: None) -> str:
    return subprocess_database_url("browser")


@pytest.fixture(scope="module")
def browser_worker(
    browser_database_url: str,
    browser_redis: RedisDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    """A ``celery -A worker worker`` for both queues on the test database."""
    env = process_environment(
        database_url=browser_database_url,
        redis=browser_redis,
        data_dir=tmp_path_factory.mktemp("browser-worker-data"),
    )
    log_path = tmp_path_factory.mktemp("browser-worker") / "worker.log"
    with running_worker(
        env, log_path, hostname=f"pytest-browser-{os.getpid()}@%h"
    ) as worker:
        yield worker


@pytest.fixture(scope="module")
def _producer_uses_test_redis(browser_redis: RedisDatabases) -> Iterator[None]:
    """This process's producer and cache on the test Redis, restored afterwards
    with no pooled connection left, so the integration tests' fixture later finds
    the Celery app as it expects."""
    with producer_and_cache_on(browser_redis, key_prefix="studio-browser-test"):
        yield


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}")
    # Playwright's sync API keeps an event loop on this thread for as long as it
    # runs; Django then refuses ORM calls here (the tests' own queries and the
    # database flush after each test), although they are plain synchronous code.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def stack(
    live_server: Any,
    browser_worker: WorkerProcess,
    _producer_uses_test_redis: None,
    transactional_db: None,
) -> Any:
    """The live server's URL, with the worker up and committed rows."""
    return live_server


class Browser:
    """Pages in separate contexts (users), screenshots, and JavaScript errors."""

    def __init__(self, chromium: Any, base_url: str) -> None:
        self.chromium = chromium
        self.base_url = base_url
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def new_page(self, *, width: int = 1280, height: int = 900) -> Any:
        context = self.chromium.new_context(
            base_url=self.base_url,
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                self.errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.route("**/*", self._only_local)
        return page

    def _only_local(self, route: Any) -> None:
        # Nothing may load from outside this machine (no CDN, no fonts).
        url = route.request.url
        if url.startswith((self.base_url, "data:")):
            route.continue_()
        else:
            self.errors.append(f"external request: {url}")
            route.abort()

    def forget_errors(self, containing: str) -> None:
        """Drop expected errors, such as the console line of a wanted 404."""
        self.errors = [error for error in self.errors if containing not in error]

    def screenshot(self, page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        wait_for_images(page.locator("img"))
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browser(chromium: Any, stack: Any) -> Iterator[Browser]:
    session = Browser(chromium, stack.url)
    yield session
    session.close()
    assert session.errors == []


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    return wait_for
