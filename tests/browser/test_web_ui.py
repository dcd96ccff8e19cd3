"""Acceptance for the web UI, in a real headless Chromium against the simulated exchange.

The hub and the simulator run in-process (what ``marketcast demo`` runs, with the
simulator's faults at hand); the page is the built app served at ``/``. Page state is
read from ``window.marketcast`` (the app's documented test contract, web/README.md).
Screenshots of each view land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Page

from marketcast.exchanges.sim import SimConfig
from support.browser import screenshot
from support.webui import Ui, loaded, open_page, serving_ui, state, until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
INTERVALS = ("1m", "5m")
# 30x: a 1m candle closes every 2 s, so "live" is visible within a test (faster would
# only multiply the trades the page and the hub must handle: 30 virtual s a second).
SIM = SimConfig(seed=11, symbols=SYMBOLS, start_ms=1_780_272_000_000, speed=30.0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ui() -> AsyncIterator[Ui]:
    async with serving_ui(SIM, SYMBOLS, INTERVALS) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="module")
async def page(ui: Ui) -> AsyncIterator[Page]:
    async with open_page(ui.browser, f"{ui.hub.http}/") as page:
        yield page


async def test_sidebar_lists_the_symbols_formatted_and_the_chart_draws_200_candles(
    page: Page,
) -> None:
    await until(page, f"() => document.querySelectorAll('.symbol-row').length === {len(SYMBOLS)}")
    rows = page.locator(".symbol-row")
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.symbol)") == list(SYMBOLS)
    for symbol in SYMBOLS:
        row = page.locator(f'.symbol-row[data-symbol="{symbol}"]')
        await until(
            page,
            f"() => document.querySelector('.symbol-row[data-symbol=\"{symbol}\"] .price')"
            ".textContent.trim() !== ''",
        )
        price = (await row.locator(".price").inner_text()).strip()
        change = (await row.locator(".change").inner_text()).strip()
        volume = (await row.locator(".volume").inner_text()).strip()
        assert re.fullmatch(r"[\d,]+(\.\d+)?", price), price
        assert re.fullmatch(r"[+-]?\d+(\.\d+)?%", change), change
        assert re.fullmatch(r"\d+(\.\d+)?[KMB]?", volume), volume  # K/M/B formatting
    await page.locator('.symbol-row[data-symbol="ETHUSDT"]').click()
    await until(page, "() => window.marketcast.symbol === 'ETHUSDT'")
    await loaded(page)
    shown = await state(page)
    assert shown["symbol"] == "ETHUSDT"
    assert len(shown["candles"]) >= 200
    assert await page.locator("#chart canvas").count() > 0  # lightweight-charts drew
    await screenshot(page, "main-view")


async def test_live_the_last_candle_changes_and_new_candles_appear(page: Page) -> None:
    await loaded(page)
    before = (await state(page))["candles"]
    last = before[-1]
    await until(
        page,
        f"() => window.marketcast.candles.at(-1).time > {last['time']}",
    )
    after = (await state(page))["candles"]
    assert after[-1]["time"] > last["time"]
    times = [c["time"] for c in after]
    assert times == sorted(set(times)), "the series is not strictly ascending"


async def test_reconnect_shows_reconnecting_then_live_and_the_series_equals_rest(
    ui: Ui, page: Page
) -> None:
    await loaded(page)
    await until(page, "() => window.marketcast.badge === 'live'")
    before = await state(page)
    connects, symbol, interval = before["connects"], before["symbol"], before["interval"]
    step = 60 if interval == "1m" else 300
    held_newest = before["candles"][-1]["time"]
    # Record every badge state the page shows, however briefly.
    await page.evaluate(
        """() => {
            const badge = document.querySelector('#badge');
            window.__badges = [badge.dataset.state];
            new MutationObserver(() => window.__badges.push(badge.dataset.state))
                .observe(badge, {attributes: true, childList: true, subtree: true,
                                 characterData: true});
        }"""
    )
    # Kill the upstream and the client socket; keep the hub unreachable for the page for
    # a few seconds (several candles close meanwhile) by pointing new sockets at a dead port.
    await page.evaluate(
        """() => {
            window.__RealWebSocket = window.WebSocket;
            window.WebSocket = function () {
                return new window.__RealWebSocket('ws://127.0.0.1:9/');
            };
            window.marketcast.ws.close();
        }"""
    )
    ui.hub.sim.faults.drop_connections()
    await until(page, "() => document.querySelector('#badge').dataset.state === 'reconnecting'")
    assert await page.locator("#badge").inner_text() == "reconnecting"
    await screenshot(page, "reconnecting")
    # The page stays cut off until candles it never saw have closed at the hub.
    await hub_reaches(ui, symbol, interval, held_newest + 2 * step)
    await page.evaluate("() => { window.WebSocket = window.__RealWebSocket; }")
    await until(
        page, f"() => window.marketcast.badge === 'live' && window.marketcast.connects > {connects}"
    )
    assert "reconnecting" in await page.evaluate("() => window.__badges")

    async with httpx.AsyncClient(base_url=ui.hub.http, timeout=10) as client:
        response = await client.get(f"/candles/{symbol}/{interval}", params={"limit": 1000})
    rest = {c["time"]: c for c in response.json()["candles"]}
    newest = max(rest)
    await until(
        page,
        "() => window.marketcast.candles.some(c => c.time >= " + str(newest) + ")",
    )
    series = (await state(page))["candles"]
    times = [c["time"] for c in series]
    assert times == list(range(times[0], times[-1] + step, step)), "a gap or a duplicate"
    compared = 0
    for candle in series:
        truth = rest.get(candle["time"])
        if truth is None or not truth["closed"] or not candle["closed"]:
            continue  # older than REST's window, or still forming when one of them was read
        assert _ohlcv(candle) == _ohlcv(truth), candle["time"]
        compared += 1
    assert compared >= 200
    await screenshot(page, "after-reconnect")


def _ohlcv(candle: dict[str, Any]) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(candle[k])) for k in ("open", "high", "low", "close", "volume"))


async def test_rounding_change_reaggregates_the_book_and_trades_and_liquidations_update(
    page: Page,
) -> None:
    await loaded(page)
    await until(page, "() => document.querySelectorAll('#orderbook .bids .level').length > 0")
    options = await page.locator("select#rounding option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert len(options) >= 2, options
    coarse = options[-1]
    await page.locator("select#rounding").select_option(coarse)
    await until(
        page,
        f"() => window.marketcast.book.rounding === '{coarse}' && "
        "window.marketcast.book.bids.length > 0",
    )
    book = (await state(page))["book"]
    step = Decimal(coarse)
    for side in ("bids", "asks"):
        prices = [Decimal(str(_price(level))) for level in book[side]]
        assert prices, side
        assert all(price % step == 0 for price in prices), (side, prices[:5], step)
    await screenshot(page, "order-book-rounded")

    await until(page, "() => document.querySelectorAll('#trades .trade').length > 0")
    first_trade = (await state(page))["trades"][0]
    await until(page, f"() => JSON.stringify(window.marketcast.trades[0]) !== {_js(first_trade)}")
    await until(page, "() => document.querySelectorAll('#liquidations .liquidation').length > 0")
    first_liquidation = (await state(page))["liquidations"][0]
    await until(
        page,
        f"() => JSON.stringify(window.marketcast.liquidations[0]) !== {_js(first_liquidation)}",
    )
    await screenshot(page, "trades-and-liquidations")


def _price(level: Any) -> Any:
    if isinstance(level, dict):
        return level["price"]
    return level[0]


def _js(value: Any) -> str:
    """``value`` as a JS string literal of its JSON (to compare with JSON.stringify)."""
    return json.dumps(json.dumps(value, separators=(",", ":")))


async def test_inspect_shows_every_topic_with_1000_candles(ui: Ui, page: Page) -> None:
    await page.goto(f"{ui.hub.http}/inspect")
    topics = len(SYMBOLS) * len(INTERVALS)
    await until(
        page, f"() => document.querySelectorAll('table#topics tbody tr').length === {topics}"
    )
    await until(
        page,
        "() => [...document.querySelectorAll('table#topics tbody tr .count')]"
        ".every(cell => cell.textContent.trim() === '1000')",
    )
    for symbol in SYMBOLS:
        for interval in INTERVALS:
            row = page.locator(f'table#topics tbody tr[data-topic="{symbol}:{interval}"]')
            assert await row.count() == 1, f"{symbol}:{interval}"
    refreshes = await page.evaluate("() => window.inspectState.refreshes")
    await until(page, f"() => window.inspectState.refreshes > {refreshes}")
    await screenshot(page, "inspect")


async def test_inspect_ws_shows_live_messages(ui: Ui, page: Page) -> None:
    await page.goto(f"{ui.hub.http}/inspect-ws?channel=candles&symbol=BTCUSDT&interval=1m")
    await until(page, "() => document.querySelectorAll('#log .message').length >= 3")
    count = await page.evaluate("() => window.inspectWsState.count")
    await until(page, f"() => window.inspectWsState.count > {count}")
    await screenshot(page, "inspect-ws")


async def hub_reaches(ui: Ui, symbol: str, interval: str, open_time: int) -> None:
    """Wait until the hub holds a candle opened at ``open_time`` (epoch seconds) or later."""
    async with asyncio.timeout(90):
        while True:
            body = await ui.get(f"/candles/{symbol}/{interval}", limit=1)
            if body["candles"] and body["candles"][-1]["time"] >= open_time:
                return
            await asyncio.sleep(0.2)
