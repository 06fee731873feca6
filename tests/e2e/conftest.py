"""Browser tests: real Chromium driven by Playwright's sync API against pytest-django's live server.

Tests here are marked `e2e`; tests/conftest.py skips them when Debian's chromium is missing.
"""

import os

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright():
    """Let the ORM run in this thread while Playwright's event loop is alive in it.

    Playwright's sync API keeps a running loop in the main thread from start to stop, and Django refuses
    ORM calls from a thread with a running loop. The flag is set only while the e2e tests run: set for
    the whole process it would leak into the rest of the suite and its subprocesses (`check --deploy`
    rightly fails on it), and the browser is closed before it is cleared.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(_allow_orm_beside_playwright):
    """One Chromium for all the e2e tests, closed when they are done."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) on the live server, at 1280×800."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(5000)
    page = context.new_page()
    yield page
    context.close()
