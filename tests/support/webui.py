"""Reading and waiting on the web app in a browser test.

The app's state is ``window.marketcast`` (its documented test contract, web/README.md).
Every wait is on a condition, bounded generously: a busy 2-core machine may take long.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from marketcast.exchanges.sim import SimConfig
from support.browser import chromium, require_built_ui
from support.servers import Running, running_hub, wait_ready

WAIT_MS = 90_000
# A Retry-After is at most a minute of the exchange's weight window: a few suffice.
HISTORY_RETRIES = 5


@dataclass
class Ui:
    """A hub on the simulator and a Chromium to open its pages in."""

    hub: Running
    browser: Browser

    def url(self, query: str = "") -> str:
        return f"{self.hub.http}/{query}"

    async def get(self, path: str, **params: Any) -> Any:
        """A REST read of the hub (what the page should agree with). Older history may
        answer 503 with Retry-After while the exchange weight it may spend is used up (the
        page's own scrolling spends it): waited out, as a client would."""
        async with httpx.AsyncClient(base_url=self.hub.http, timeout=30) as client:
            for _ in range(HISTORY_RETRIES):
                response = await client.get(path, params=params)
                if response.status_code != 503 or "Retry-After" not in response.headers:
                    break
                await asyncio.sleep(float(response.headers["Retry-After"]))
        response.raise_for_status()
        return response.json()


@asynccontextmanager
async def serving_ui(
    sim: SimConfig, symbols: tuple[str, ...], intervals: tuple[str, ...]
) -> AsyncIterator[Ui]:
    """The built app served by an in-process hub (1000-candle buffer), and a browser."""
    require_built_ui()
    async with (
        running_hub(sim, symbols=symbols, intervals=intervals, buffer_size=1000) as hub,
        chromium() as browser,
    ):
        await wait_ready(hub.http, timeout=60)
        yield Ui(hub, browser)


async def state(page: Page) -> dict[str, Any]:
    """The app's state without the socket object (not serialisable)."""
    value: dict[str, Any] = await page.evaluate(
        "() => { const { ws, ...rest } = window.marketcast; return rest; }"
    )
    return value


async def until(page: Page, condition: str) -> None:
    await page.wait_for_function(condition, timeout=WAIT_MS)


async def loaded(page: Page, candles: int = 200) -> None:
    await until(page, f"() => window.marketcast && window.marketcast.candles.length >= {candles}")


@asynccontextmanager
async def open_page(
    browser: Browser, url: str, *, width: int = 1440, height: int = 900, **context: Any
) -> AsyncIterator[Page]:
    """A page at ``url`` in a fresh context; fails the test if the page threw."""
    browser_context = await browser.new_context(
        viewport={"width": width, "height": height}, **context
    )
    page = await browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    try:
        yield page
    finally:
        await browser_context.close()
    assert not errors, f"the page threw: {errors}"
