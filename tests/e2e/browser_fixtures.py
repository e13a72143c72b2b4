"""A headless Chromium for the web pages' tests, and pages of the live service in it.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright's async API in the
session's event loop; no browser is ever downloaded. Test modules call
:func:`require_browser` first: without Playwright or Chromium they are skipped (and fail
under CI). Screenshots land in ``artifacts/screenshots/``; with ``UPDATE_SCREENSHOTS=1``
the README pictures in ``docs/screenshots/`` are rewritten too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.server_fixtures import LiveServer

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]
    expect = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
TALL = {"width": 1280, "height": 1200}
TIMEOUT_MS = 20_000

if expect is not None:
    # Turns, polling (every 3 s) and resolutions take a few seconds on a busy 2-core machine.
    expect.set_options(timeout=TIMEOUT_MS)


def require_browser() -> None:
    """Skip the calling test module without Playwright or Chromium (fail under CI)."""
    if async_playwright is None:  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            raise RuntimeError("playwright is not installed (uv sync --group dev)")
        pytest.skip("playwright is not installed (uv sync --group dev)", allow_module_level=True)
    if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session (contexts keep tests apart)."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


OpenPage = Callable[..., Awaitable["Page"]]


@pytest.fixture
async def open_page(browser: Browser, live_server: LiveServer) -> AsyncIterator[OpenPage]:
    """Open a page of the live service in a fresh browser context (its own sessionStorage).

    Every uncaught JavaScript error on any page fails the test.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(path: str = "/", *, phone: bool = False) -> Page:
        options: dict[str, Any] = (
            {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
            if phone
            else {"viewport": DESKTOP}
        )
        context = await browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        await page.goto(live_server.url + path)
        await expect(page.locator("body[data-ready]")).to_be_attached()
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert not errors, "JavaScript errors:\n" + "\n".join(errors)


async def screenshot(page: Page, name: str, *, docs: str | None = None, full: bool = False) -> None:
    """Save a screenshot as a test artifact (and as a README picture when asked to)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(target), full_page=full, animations="disabled", caret="hide")
    if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS / docs)


async def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0: no horizontal scroll)."""
    width: int = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


async def sign_in(page: Page, token: str) -> None:
    """Sign in to the review console with a reviewer token."""
    await page.get_by_label("Reviewer token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#console")).to_be_visible()
