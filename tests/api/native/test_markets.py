"""Spot and USD-M side by side in one node: each market with its own exchange paths,
symbols and feeds, chosen per request by ``market`` or by a ccxt unified symbol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from api.native.book_truth import parsed, true_book
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig
from marketcast.exchanges.sim.wire.streams import Market
from support.servers import Running, running_hub, wait_ready
from support.wsio import connect, receive_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
M1 = Interval.parse("1m")
# ETHUSDT has no perpetual here: a request routed to the wrong market shows.
SIM = SimConfig(
    start_ms=START_MS, speed=30, symbols=("BTCUSDT", "ETHUSDT"), futures_symbols=("BTCUSDT",)
)
Json = dict[str, Any]
MARKETS: tuple[Market, ...] = ("spot", "usdm")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(
        SIM, symbols=("BTCUSDT",), usdm_symbols=("BTCUSDT",), intervals=("1m",)
    ) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=30) as http:
        yield http


def assert_true_candles(hub: Running, body: Json, market: Market) -> None:
    times = [c["time"] * 1000 for c in body["candles"]]
    now = hub.sim.clock.now_ms()
    truth = hub.sim.market_truth(market).klines("BTCUSDT", M1, times[0], times[-1], now)
    assert [c.time * 1000 for c in truth] == times
    closed = [c for c in body["candles"] if c["closed"]]
    assert [c["close"] for c in closed] == [t.close for t in truth[: len(closed)]]


async def test_both_markets_serve_their_candles_from_their_own_exchange_paths(
    hub: Running, client: httpx.AsyncClient
) -> None:
    spot = (await client.get("/candles/BTCUSDT/1m", params={"limit": 50})).json()
    usdm = (await client.get("/candles/BTCUSDT/1m", params={"limit": 50, "market": "usdm"})).json()
    assert "market" not in spot  # SmartTrade's body, unchanged, when no market is named
    assert usdm["market"] == "usdm"
    assert_true_candles(hub, spot, "spot")
    assert_true_candles(hub, usdm, "usdm")
    # The simulator's perpetual trades at a basis to spot: the two series differ.
    assert spot["candles"][0]["close"] != usdm["candles"][0]["close"]
    requested = hub.sim.stats.rest_requests
    assert requested["/api/v3/klines"] > 0
    assert requested["/fapi/v1/klines"] > 0
    assert requested["/fapi/v1/exchangeInfo"] > 0

    # Topics not configured start on demand in either market.
    for market in ("spot", "usdm"):
        hourly = await client.get("/candles/BTCUSDT/1h", params={"market": market, "limit": 3})
        assert (hourly.status_code, hourly.json()["market"]) == (200, market)
        assert len(hourly.json()["candles"]) == 3

    # Each market knows its own symbols and intervals.
    eth = await client.get("/candles/ETHUSDT/1m", params={"market": "usdm"})
    assert (eth.status_code, eth.json()["code"]) == (404, "unknown_symbol")
    seconds = await client.get("/candles/BTCUSDT/1s", params={"market": "usdm"})
    assert (seconds.status_code, seconds.json()["code"]) == (400, "invalid_interval")
    bad = await client.get("/candles/BTCUSDT/1m", params={"market": "coinm"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_market")
    assert "spot, usdm" in bad.json()["detail"]


async def test_a_ccxt_unified_symbol_names_its_market(client: httpx.AsyncClient) -> None:
    perpetual = await client.get("/candles/BTC%2FUSDT:USDT/1m", params={"limit": 5})
    assert (perpetual.json()["symbol"], perpetual.json()["market"]) == ("BTCUSDT", "usdm")
    spot = await client.get("/candles/BTC%2FUSDT/1m", params={"limit": 5})
    assert (spot.json()["symbol"], spot.json()["market"]) == ("BTCUSDT", "spot")
    clash = await client.get("/candles/BTC%2FUSDT:USDT/1m", params={"market": "spot"})
    assert (clash.status_code, clash.json()["code"]) == (400, "invalid_market")
    coin = await client.get("/orderbook/BTC%2FUSD:BTC")
    assert (coin.status_code, coin.json()["code"]) == (400, "invalid_market")


async def test_books_depth_and_trades_name_their_market(
    hub: Running, client: httpx.AsyncClient
) -> None:
    for market in ("spot", "usdm"):
        for route in ("/orderbook/BTCUSDT", "/depth/BTCUSDT", "/trades/BTCUSDT"):
            response = await client.get(route, params={"market": market, "limit": 5})
            assert response.status_code == 200, (route, market, response.text)
            assert response.json()["market"] == market
    requested = hub.sim.stats.rest_requests
    assert requested["/api/v3/depth"] > 0
    assert requested["/fapi/v1/depth"] > 0
    assert requested["/fapi/v1/aggTrades"] > 0


async def test_each_markets_book_and_trades_are_its_own_truth(
    hub: Running, client: httpx.AsyncClient
) -> None:
    books: dict[str, Any] = {}
    for market in MARKETS:
        # The simulator's book holds fewer than 1000 levels a side: this is all of it.
        body = (await client.get("/depth/BTCUSDT", params={"market": market, "limit": 1000})).json()
        assert body["market"] == market
        bids, asks = parsed(body["bids"]), parsed(body["asks"])
        assert (bids, asks) == true_book(hub.sim, "BTCUSDT", market, body["last_update_id"])
        books[market] = (bids, asks)

        trades = (await client.get("/trades/BTCUSDT", params={"market": market})).json()
        assert trades["market"] == market
        assert_true_trades(hub, market, trades["trades"])
    # Not one book served twice. (Their best bids alone may meet: the perpetual's basis
    # to spot is small, and a busy machine fetches the two books moments apart.)
    assert books["spot"] != books["usdm"]


def assert_true_trades(hub: Running, market: Market, rows: list[Json]) -> None:
    """``rows`` (ascending id) are ``market``'s trades: every id from the first to the last,
    each at its true price and quantity."""
    ids = [row["id"] for row in rows]
    assert ids, market
    # Up to the last row's second, not the clock's now: on a busy machine the clock is far
    # ahead, and generating every trade since would cost more than the test may take.
    end_ms = max(row["timestamp"] for row in rows) + 1000
    truth = hub.sim.market_truth(market).trades("BTCUSDT", from_id=ids[0], end_ms=end_ms)
    assert [t.trade_id for t in truth if t.trade_id <= ids[-1]] == ids, market
    spec = hub.sim.market_truth(market).tape.spec("BTCUSDT")
    by_id = {t.trade_id: t for t in truth}
    for row in rows:
        want = by_id[row["id"]]
        shown = (Decimal(row["price_formatted"]), Decimal(row["amount_formatted"]))
        true = (
            Decimal(want.price).scaleb(-spec.price_decimals),
            Decimal(want.qty).scaleb(-spec.qty_decimals),
        )
        assert shown == true, (market, row["id"])


async def test_symbols_health_and_status_list_both_markets(client: httpx.AsyncClient) -> None:
    assert (await client.get("/symbols")).json() == {"symbols": ["BTCUSDT"]}
    usdm = (await client.get("/symbols", params={"market": "usdm"})).json()
    assert usdm == {"symbols": ["BTCUSDT"], "market": "usdm"}
    health = (await client.get("/health")).json()
    assert health["market"] == "spot"
    assert set(health["markets"]) == {"spot", "usdm"}
    assert all(m["ready"] and m["topics"] >= 1 for m in health["markets"].values())
    assert set(health["upstream"]["markets"]) == {"spot", "usdm"}
    status = (await client.get("/streaming/status")).json()
    assert {(t["market"], t["topic"]) for t in status["topics"]} >= {
        ("spot", "BTCUSDT:1m"),
        ("usdm", "BTCUSDT:1m"),
    }


async def test_one_socket_follows_both_markets_each_message_tagged(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        subscribed: list[str] = []
        for market in ("spot", "usdm"):
            request = {"op": "subscribe", "symbol": "BTCUSDT", "limit": 3, "market": market}
            await ws.send(orjson.dumps(request))
            # Live candles of a market already followed may come first; nothing else may.
            *before, snapshot = await receive_until(ws, lambda m: m["type"] == "snapshot")
            assert snapshot["market"] == market
            assert {(m["type"], m["market"]) for m in before} <= {("candle", m) for m in subscribed}
            subscribed.append(market)
        seen: set[str] = set()

        def both(message: Json) -> bool:
            if message["type"] == "candle":
                seen.add(message["market"])
            return seen == {"spot", "usdm"}

        await receive_until(ws, both, timeout=60)
        await ws.send(orjson.dumps({"op": "unsubscribe", "symbol": "BTC/USDT:USDT"}))
        answer = await receive_until(ws, lambda m: m["type"] == "unsubscribed")
        assert answer[-1]["market"] == "usdm"
        after = await receive_until(ws, lambda m: m["type"] == "candle")
        assert after[-1]["market"] == "spot"


async def test_one_socket_holds_each_markets_books_and_trades_each_its_own_truth(
    hub: Running,
) -> None:
    channels = ("orderbook", "depth", "trades")
    wanted = {(channel, market) for channel in channels for market in MARKETS}
    snapshots: dict[tuple[str, str], Json] = {}
    updated: set[tuple[str, str]] = set()

    def take(message: Json) -> bool:
        # Every message names its market, and its content is that market's truth.
        assert message["type"] != "error", message
        key = (message["channel"], message["market"])
        assert key in wanted, message
        assert message["symbol"] == "BTCUSDT"
        assert_of_its_market(hub, message)
        if message["type"] == "snapshot":
            snapshots[key] = message
        else:
            updated.add(key)
        return set(snapshots) == wanted and updated == wanted

    async with connect(f"{hub.ws}/ws", max_size=None) as ws:
        for market in MARKETS:
            for channel in channels:
                request = {"op": "subscribe", "channel": channel, "symbol": "BTCUSDT"}
                await ws.send(orjson.dumps(request | {"market": market}))
        # Until each market sent a snapshot and then an update on each channel.
        await receive_until(ws, take, timeout=90)
    depth = {market: snapshots[("depth", market)] for market in MARKETS}
    for market, snapshot in depth.items():
        held = (parsed(snapshot["bids"]), parsed(snapshot["asks"]))
        assert held == true_book(hub.sim, "BTCUSDT", market, snapshot["last_update_id"])
    assert depth["spot"]["bids"] != depth["usdm"]["bids"]  # two books, not one twice


def assert_of_its_market(hub: Running, message: Json) -> None:
    """The content of ``message`` is the truth of the market it names (the two markets'
    prices differ by a basis, so a message of the other market would not match)."""
    market: Market = message["market"]
    if message["channel"] == "trades":
        if message["trades"]:
            assert_true_trades(hub, market, message["trades"])
    elif message["channel"] == "orderbook":
        # The raw book's best bid, before any rounding, at the view's update id.
        book = true_book(hub.sim, "BTCUSDT", market, message["update_id"])
        assert Decimal(str(message["depth"]["best_bid"])) == book[0][0][0], market
    elif message["type"] == "snapshot":  # depth: compared in full at the end
        assert message["reset"] is False
    else:
        # A change: each level it names is at the quantity the true book holds after it.
        bids, asks = true_book(hub.sim, "BTCUSDT", market, message["last_update_id"])
        for rows, side in ((message["bids"], dict(bids)), (message["asks"], dict(asks))):
            for price, quantity in parsed(rows):
                assert side.get(price, Decimal(0)) == quantity, (market, price)
