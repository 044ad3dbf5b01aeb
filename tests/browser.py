"""Real-browser tests: the app served over HTTP from a thread, and Debian's Chromium driven by Playwright.

Use the fixtures from a test module with ``from tests.browser import live_server, browser  # noqa: F401``.
Chromium comes from Debian's packages (``make test-services`` installs it); where it is missing the
browser tests are skipped with a visible reason, except under CI (``CI=true``), where they fail.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("CIVIC_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _missing(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (under CI the browser tests must not be skipped: make test-services installs it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def live_server(app):
    """The test app served on 127.0.0.1 (a free port) by a threaded WSGI server; yields its base URL.

    The app is the session's app (SQLite and PostgreSQL runs alike); the server stops with the module.
    """
    with served(app) as url:
        yield url


@contextmanager
def served(app) -> Iterator[str]:
    """``app`` on a free port of 127.0.0.1 (a threaded WSGI server), for the length of the block."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Debian's), shared by the tests of a module."""
    if not os.path.exists(CHROMIUM):
        _missing(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover -- the test extra installs it
        _missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
