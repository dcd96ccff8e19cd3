"""``/inspect-ws`` opened bare inspects the hub's first configured topic, live, and its
form changes the subscription and keeps it in the URL; in a real headless Chromium
against the simulated exchange.

The page is self-contained: every request that leaves the hub's origin is aborted and
fails the test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route

from marketcast.exchanges.sim import SimConfig
from support.browser import chromium, screenshot
from support.servers import Running, running_hub, wait_ready

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

# Neither BTCUSDT nor 1m comes first: a default the page made up would not pass.
SYMBOLS = ("ETHUSDT", "SOLUSDT")
INTERVALS = ("5m", "1m")
# 30x: the forming candle changes several times a second of the test.
SIM = SimConfig(seed=5, symbols=SYMBOLS, start_ms=1_780_272_000_000, speed=30.0)
TOKEN = "inspect-ws-token"
# A bound, not a wait: every wait is on a condition, and a busy machine may take long.
WAIT_MS = 90_000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(SIM, symbols=SYMBOLS, intervals=INTERVALS, feeds=()) as running:
        await wait_ready(running.http, timeout=60)
        yield running


@asynccontextmanager
async def open_page(browser: Browser, origin: str) -> AsyncIterator[Page]:
    """A fresh page whose requests may reach ``origin`` only; fails on a page error."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    allowed = urlsplit(origin).netloc
    elsewhere: list[str] = []

    async def hub_only(route: Route) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", hub_only)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"the page threw: {errors}"
    assert not elsewhere, f"the page reached beyond the hub: {elsewhere}"


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, hub: Running) -> AsyncIterator[Page]:
    async with open_page(browser, hub.http) as opened:
        yield opened


async def until(page: Page, condition: str) -> None:
    await page.wait_for_function(condition, timeout=WAIT_MS)


def listed(symbol: str, interval: str, kind: str = "candle") -> str:
    """A condition: a message of kind ``kind`` of that candle topic is in the log."""
    selector = (
        f'#log .message[data-channel="candles"][data-symbol="{symbol}"]'
        f'[data-interval="{interval}"][data-type="{kind}"]'
    )
    return f"() => document.querySelector('{selector}') !== null"


async def form(page: Page) -> dict[str, str]:
    return {key: await page.input_value(f"#{key}") for key in ("channel", "symbol", "interval")}


def page_query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


async def test_without_a_query_the_first_configured_topic_streams_and_the_form_switches_it(
    hub: Running, page: Page
) -> None:
    await page.goto(f"{hub.http}/inspect-ws")
    await until(page, listed("ETHUSDT", "5m", "snapshot"))
    await until(page, listed("ETHUSDT", "5m"))
    assert await page.evaluate("() => window.inspectWsState.count") > 0
    assert int(await page.inner_text("#count")) > 0
    assert await form(page) == {"channel": "candles", "symbol": "ETHUSDT", "interval": "5m"}
    assert await page.evaluate("() => window.inspectWsState.subscription") == {
        "op": "subscribe",
        "channel": "candles",
        "symbol": "ETHUSDT",
        "interval": "5m",
    }
    assert "ETHUSDT" in await page.inner_text("#current")
    assert await page.inner_text("#state") == "open"
    assert page_query(page) == {}, "a default is not written into the URL"
    await until(page, "() => window.inspectWsState.count >= 4")
    await screenshot(page, "inspect-ws-default")

    await page.fill("#symbol", "SOLUSDT")
    await page.click("#subscribe")
    await until(page, listed("SOLUSDT", "5m"))
    await until(page, "() => new URLSearchParams(location.search).get('symbol') === 'SOLUSDT'")
    assert page_query(page) == {"channel": ["candles"], "symbol": ["SOLUSDT"], "interval": ["5m"]}
    assert await page.evaluate("() => window.inspectWsState.source") == "form"

    # The URL now names the subscription: a reload opens it, not the default.
    await page.reload()
    await until(page, "() => window.inspectWsState.source === 'query'")
    assert await form(page) == {"channel": "candles", "symbol": "SOLUSDT", "interval": "5m"}
    await until(page, listed("SOLUSDT", "5m"))
    assert not await page.evaluate(listed("ETHUSDT", "5m", "snapshot"))


async def test_a_query_without_a_symbol_takes_the_first_configured_symbol(
    hub: Running, page: Page
) -> None:
    await page.goto(f"{hub.http}/inspect-ws?interval=1m")
    await until(page, listed("ETHUSDT", "1m"))
    assert await form(page) == {"channel": "candles", "symbol": "ETHUSDT", "interval": "1m"}


async def test_what_the_page_shows_is_text_never_markup(hub: Running, page: Page) -> None:
    symbol = '<img src=x onerror="window.injected = true">'
    await page.goto(f"{hub.http}/inspect-ws?symbol={quote(symbol)}")
    await until(page, "() => document.querySelector('#log .message[data-type=\"error\"]') !== null")
    assert await page.input_value("#symbol") == symbol
    assert json.dumps(symbol) in await page.inner_text("#current")  # as JSON, not as a tag
    assert await page.locator("img").count() == 0
    assert await page.evaluate("() => window.injected") is None


async def test_the_token_of_the_page_reaches_the_default_the_socket_and_the_url(
    browser: Browser,
) -> None:
    config = SimConfig(seed=6, symbols=("BTCUSDT",), start_ms=1_780_272_000_000, speed=30.0)
    async with running_hub(
        config, symbols=("BTCUSDT",), intervals=("1m",), auth_token=TOKEN, feeds=()
    ) as hub:
        await wait_ready(hub.http, timeout=60)
        async with open_page(browser, hub.http) as page:
            await page.goto(f"{hub.http}/inspect-ws?token={TOKEN}")
            await until(page, listed("BTCUSDT", "1m"))
            assert await page.input_value("#token") == TOKEN
            await page.fill("#interval", "5m")  # not configured: started on demand
            await page.click("#subscribe")
            await until(page, listed("BTCUSDT", "5m"))
            assert page_query(page) == {
                "token": [TOKEN],
                "channel": ["candles"],
                "symbol": ["BTCUSDT"],
                "interval": ["5m"],
            }
