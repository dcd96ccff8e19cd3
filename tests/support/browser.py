"""A real headless Chromium (Debian's) driven by playwright, for the web UI tests.

Without Chromium or without the built web UI these tests skip, except on CI
(``CI=true``) where either is a failure: a green CI run must have driven the real page.
``scripts/install-chromium`` installs Chromium; ``make ui`` builds the page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

import marketcast

STATIC_DIR = Path(marketcast.__file__).parent / "web" / "static"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TAKEN: list[Path] = []  # taken and not reported yet; tests/conftest.py lists them at the end


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}, and CI must run the browser tests")
    pytest.skip(what)


def chromium_path() -> str:
    """Path of Debian's Chromium; skips the test (fails it on CI) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _missing("chromium is not installed (scripts/install-chromium installs it)")
    assert found is not None
    return found


def require_built_ui() -> None:
    if not (STATIC_DIR / "index.html").is_file():
        _missing("the web UI is not built (make ui)")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # Containers often lack the sandbox's kernel features and a big /dev/shm.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    TAKEN.append(path)
    return path
