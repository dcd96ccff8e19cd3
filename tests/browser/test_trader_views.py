"""Acceptance for the trader's views of the web app, in a real headless Chromium.

The legend, indicator studies, search and the view in the address bar, older candles on
the left edge, the fixed interval bar, the market switch, the time zone, and the phone
layout. The hub and the simulator run in-process; the page's state is
``window.marketcast`` (web/README.md). Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Page

from marketcast.exchanges.sim import SimConfig
from support.browser import screenshot
from support.webui import Ui, loaded, open_page, serving_ui, state, until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
INTERVALS = ("1m", "5m")
# Ten times real time: candles close within seconds, and the trades and liquidations
# that can never be coalesced come ten times faster than a trader's page gets them. At
# thirty times, with coverage and both cores busy, the starved test browser fell 2,000
# messages behind, was closed as a slow consumer again and again, and never settled.
SPEED = 10
SIM = SimConfig(seed=19, symbols=SYMBOLS, start_ms=1_780_272_000_000, speed=SPEED)
ALL_INTERVALS = [
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ui() -> AsyncIterator[Ui]:
    async with serving_ui(SIM, SYMBOLS, INTERVALS) as served:
        yield served


def price_text(value: float, precision: int) -> str:
    return f"{value:.{precision}f}"


async def test_hovering_a_candle_shows_its_ohlcv_as_the_hub_serves_it(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url("?symbol=ETHUSDT&interval=5m")) as page:
        await loaded(page)
        candles = (await state(page))["candles"]
        target = candles[-40]  # closed long ago: the same in the page and over REST
        # New candles shift the view left; on a busy machine one may land between reading
        # the candle's x and moving the mouse there. Hold the view still.
        await page.evaluate(
            "() => window.marketcast.chart.timeScale()"
            ".applyOptions({shiftVisibleRangeOnNewBar: false})"
        )
        x = await page.evaluate(
            f"() => window.marketcast.chart.timeScale().timeToCoordinate({target['time']})"
        )
        box = await page.locator("#chart").bounding_box()
        assert box is not None
        assert x is not None
        await page.mouse.move(box["x"] + x, box["y"] + box["height"] / 3)
        await until(
            page, f"() => document.querySelector('#legend').dataset.time === '{target['time']}'"
        )
        legend = {
            field: await page.locator(f'#legend [data-field="{field}"]').inner_text()
            for field in ("open", "high", "low", "close", "change")
        }
        body = await ui.get("/candles/ETHUSDT/5m", since=target["time"] - 300, limit=2)
        previous, truth = body["candles"]
        assert truth["time"] == target["time"]
        assert truth["closed"]
        meta = {m["symbol"]: m for m in await ui.get("/api/v1/symbols")}["ETHUSDT"]
        precision = meta["pricePrecision"]
        for field in ("open", "high", "low", "close"):
            assert legend[field] == price_text(truth[field], precision), field
        change = (truth["close"] - previous["close"]) / previous["close"] * 100
        assert legend["change"] == f"{'+' if change >= 0 else ''}{change:.2f}%"
        await screenshot(page, "legend-hover")


async def test_ema20_ends_at_the_hubs_ema20_and_rsi_gets_a_pane_of_its_own(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url("?symbol=BTCUSDT&interval=5m")) as page:
        await loaded(page)
        assert (await state(page))["panes"] == 1
        await page.locator("#studies summary").click()
        await page.locator('.studies-menu input[value="ema20"]').check()
        await page.locator('.studies-menu input[value="rsi14"]').check()
        await until(
            page,
            "() => (window.marketcast.studyLines.ema20?.value?.length ?? 0) > 100 && "
            "(window.marketcast.studyLines.rsi14?.value?.length ?? 0) > 100",
        )
        assert (await state(page))["panes"] == 2  # the price pane and RSI's
        assert "studies=ema20,rsi14" in page.url
        # The newest point moves with the forming candle; the one before is closed.
        line = (await state(page))["studyLines"]["ema20"]["value"]
        closed = line[-2]
        body = await ui.get("/indicators/BTCUSDT/5m", names="ema20", limit=10)
        served = {p["time"]: p["value"] for p in body["series"]["ema20"]}
        assert served[closed["time"]] == pytest.approx(closed["value"], rel=1e-12)
        await screenshot(page, "indicators-ema20-rsi14")
        await page.reload()
        await until(page, "() => (window.marketcast.studyLines.rsi14?.value?.length ?? 0) > 0")
        assert (await state(page))["studies"] == ["ema20", "rsi14"]


async def test_typing_eth_and_enter_opens_ethusdt_in_the_address_bar_and_back_returns(
    ui: Ui,
) -> None:
    async with open_page(ui.browser, ui.url()) as page:
        await loaded(page)
        assert (await state(page))["symbol"] == "BTCUSDT"
        await page.locator("#chart").click()  # focus on the page, not in a field
        await page.keyboard.type("eth")
        assert await page.locator("#symbol-search").input_value() == "eth"
        visible = await page.locator(".symbol-row:not([hidden])").evaluate_all(
            "rows => rows.map(r => r.dataset.symbol)"
        )
        assert visible == ["ETHUSDT"]
        await page.keyboard.press("Enter")
        await until(page, "() => window.marketcast.symbol === 'ETHUSDT'")
        assert page.url.endswith("?symbol=ETHUSDT&interval=1m")
        await loaded(page)
        await page.reload()
        await loaded(page)
        assert (await state(page))["symbol"] == "ETHUSDT"
        await page.go_back()
        await until(page, "() => window.marketcast.symbol === 'BTCUSDT'")
        await loaded(page)
        assert page.url.endswith("?symbol=BTCUSDT&interval=1m")


async def test_the_left_edge_loads_older_candles_without_a_seam_up_to_the_first(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url("?symbol=SOLUSDT&interval=5m")) as page:
        await loaded(page)
        held = len((await state(page))["candles"])
        # Three pages back: the first from the hub's buffer, the others from the exchange.
        for pages in (1, 2, 3):
            await page.evaluate(
                "() => window.marketcast.chart.timeScale()"
                ".scrollToPosition(-window.marketcast.candles.length, false)"
            )
            await until(page, f"() => window.marketcast.olderPages >= {pages}")
        series = (await state(page))["candles"]
        assert len(series) >= held + 1500
        times = [c["time"] for c in series]
        assert times == list(range(times[0], times[-1] + 300, 300)), "a gap or a duplicate"
        body = await ui.get("/candles/SOLUSDT/5m", since=times[0], limit=1000)
        for candle, truth in zip(series, body["candles"], strict=False):
            assert candle == {**truth, "closed": True}, candle["time"]
        await screenshot(page, "older-candles")

    async with open_page(ui.browser, ui.url("?symbol=BTCUSDT&interval=1M")) as page:
        await loaded(page, candles=12)
        await page.evaluate(
            "() => window.marketcast.chart.timeScale().scrollToPosition(-500, false)"
        )
        await until(page, "() => window.marketcast.atStart === true")
        first = (await state(page))["candles"][0]["time"]
        body = await ui.get("/candles/BTCUSDT/1M", limit=1000)
        assert first == body["candles"][0]["time"]
        await screenshot(page, "first-candle-marker")


async def test_the_interval_bar_stays_the_same_when_other_clients_start_topics(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url()) as page:
        await loaded(page)
        shown = (
            "() => [...document.querySelectorAll('#intervals button')].map(b => b.dataset.interval)"
        )
        before = await page.evaluate(shown)
        assert before == ALL_INTERVALS
        await ui.get("/candles/ETHUSDT/2h", limit=5)  # another client's on-demand topics
        await ui.get("/candles/BTCUSDT/15m", limit=5)
        await page.reload()
        await loaded(page)
        assert await page.evaluate(shown) == before
        await page.locator('#intervals button[data-interval="15m"]').click()
        await until(page, "() => window.marketcast.interval === '15m'")
        assert "interval=15m" in page.url


async def test_the_market_switch_follows_the_perpetual_and_says_so_in_the_address_bar(
    ui: Ui,
) -> None:
    async with open_page(ui.browser, ui.url()) as page:
        await loaded(page)
        await page.locator("select#market").select_option("usdm")
        await until(page, "() => window.marketcast.market === 'usdm'")
        await loaded(page)
        assert "market=usdm" in page.url
        body = await ui.get("/candles/BTCUSDT/1m", market="usdm", limit=20)
        truth = {c["time"]: c for c in body["candles"] if c["closed"]}
        # The page may still hold the newest of them forming: wait for its close.
        await until(
            page, f"() => window.marketcast.candles.some(c => c.time === {max(truth)} && c.closed)"
        )
        held = {c["time"]: c for c in (await state(page))["candles"] if c["closed"]}
        assert {t: held.get(t) for t in truth} == truth
        spot = {c["time"]: c for c in (await ui.get("/candles/BTCUSDT/1m", limit=1000))["candles"]}
        both = [t for t in truth if t in spot]
        assert both
        assert any(spot[t]["close"] != truth[t]["close"] for t in both)
        buttons = await page.evaluate(
            "() => [...document.querySelectorAll('#intervals button')].map(b => b.dataset.interval)"
        )
        assert "1s" not in buttons
        await screenshot(page, "perpetual")


async def test_times_are_utc_until_local_is_chosen(ui: Ui) -> None:
    url = ui.url("?symbol=BTCUSDT&interval=1m")
    async with open_page(ui.browser, url, timezone_id="Asia/Tokyo") as page:
        await loaded(page)
        await until(page, "() => document.querySelector('#legend').dataset.time")
        time, text = await legend_time(page)
        assert text == shown_at(time, UTC)
        await page.locator("#zone").click()
        await until(page, "() => document.querySelector('#zone').textContent === 'Local'")
        tokyo = ZoneInfo("Asia/Tokyo")
        await until(
            page,
            "() => document.querySelector('#legend [data-field=\"time\"]').textContent === "
            f"{json.dumps(shown_at(time, tokyo))} || "
            f"document.querySelector('#legend').dataset.time !== '{time}'",
        )
        time, text = await legend_time(page)  # the newest candle may have moved on
        assert text == shown_at(time, tokyo)
        # The trades tape follows the same zone (en-GB writes HH:MM:SS).
        await until(
            page,
            "() => { const t = window.marketcast.trades[0]; const row = "
            "document.querySelector('#trades .trade .time'); return t && row && "
            "row.textContent === new Date(t.timestamp).toLocaleTimeString('en-GB', "
            "{timeZone: 'Asia/Tokyo', hour12: false}); }",
        )


async def legend_time(page: Page) -> tuple[int, str]:
    """The legend's candle and the time it shows, read together."""
    time, text = await page.evaluate(
        """() => [Number(document.querySelector('#legend').dataset.time),
                  document.querySelector('#legend [data-field="time"]').textContent]"""
    )
    return int(time), str(text)


def shown_at(seconds: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M")


async def test_the_demo_clock_is_named_beside_the_simulated_badge(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url()) as page:
        await loaded(page)
        await until(page, "() => !document.querySelector('#sim-clock').hidden")
        assert await page.locator("#sim-clock").inner_text() == f"simulated clock \u00d7{SPEED}"
        assert await page.locator("#simulated").is_visible()


async def test_every_sidebar_price_is_filled_and_moves_live(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url()) as page:
        await loaded(page)
        prices = (
            "() => [...document.querySelectorAll('.symbol-row .price')].map(p => p.textContent)"
        )
        await until(page, f"() => ({prices})().every(text => /\\d/.test(text))")
        first = await page.evaluate(prices)
        # SOLUSDT is not the chart's symbol: its price moves through the ticker socket.
        await until(page, f"() => ({prices})()[2] !== {first[2]!r}")


async def test_on_a_phone_the_chart_comes_first_and_the_panels_are_tabs(ui: Ui) -> None:
    async with open_page(ui.browser, ui.url(), width=390, height=844) as page:
        await loaded(page)
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"horizontal overflow: {width} px"
        chart = await page.locator("#chart").bounding_box()
        assert chart is not None
        assert chart["y"] < 200
        assert chart["height"] >= 250
        assert chart["y"] + chart["height"] <= 844, "the chart is not above the fold"
        assert await page.locator("#orderbook").is_visible()
        assert not await page.locator("#trades").is_visible()
        await screenshot(page, "phone-book")
        for tab, panel in (
            ("trades", "#trades"),
            ("liquidations", "#liquidations"),
            ("markets", "#sidebar"),
        ):
            await page.locator(f'#tabs button[data-tab="{tab}"]').click()
            await until(page, f"() => document.querySelector('{panel}').offsetHeight > 0")
            assert not await page.locator("#orderbook").is_visible()
        await screenshot(page, "phone-markets")
        await page.locator('#tabs button[data-tab="trades"]').click()
        await until(page, "() => document.querySelectorAll('#trades .trade').length > 0")
        await screenshot(page, "phone-trades")
