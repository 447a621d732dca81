"""Playwright for Python driving Debian's Chromium against pytest-django's live server.

Never downloads a browser: it launches /usr/bin/chromium (`apt-get install -y chromium`). Without
it the browser tests skip and name that command, unless MAILADMIN_REQUIRE_CHROMIUM=1 (CI), where
they fail."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(os.environ.get("MAILADMIN_SCREENSHOTS", "var/screenshots"))


def unavailable(reason: str):
    if os.environ.get("MAILADMIN_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"MAILADMIN_REQUIRE_CHROMIUM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium is not installed; install it with: {INSTALL}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing; scripts/venv.sh installs it")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are plain synchronous code all the same. Only while the browser
    # module runs: a deployment check elsewhere in the session must not see the variable.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    driver = sync_playwright().start()
    browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    try:
        yield browser
    finally:
        browser.close()
        driver.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Panel:
    """One browser window on the live server."""

    def __init__(self, browser, base_url: str, viewport=DESKTOP, locale: str = "en-GB"):
        self.context = browser.new_context(viewport=viewport, locale=locale)
        self.page = self.context.new_page()
        self.base = base_url

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def log_in(self, username: str, password: str) -> None:
        self.go("/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.base + "/")

    def log_out(self) -> None:
        self.page.get_by_role("button", name="Log out").click()

    def message(self) -> str:
        return self.page.locator("#messages").inner_text()

    def error_of(self, field: str) -> str:
        """The error shown next to a field (what its aria-describedby points at)."""
        return self.page.locator(f"#id_{field}_error").inner_text(timeout=5000)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
