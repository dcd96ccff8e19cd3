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

from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig
from marketcast.exchanges.sim.truth.book import PRICE_DIGITS
from marketcast.exchanges.sim.wire.streams import Market
from support.servers import Running, running_hub, wait_ready
from support.wsio import connect, receive, receive_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
M1 = Interval.parse("1m")
# ETHUSDT has no perpetual here: a request routed to the wrong market shows.
SIM = SimConfig(
    start_ms=START_MS, speed=30, symbols=("BTCUSDT", "ETHUSDT"), futures_symbols=("BTCUSDT",)
)
Json = dict[str, Any]


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
    spec = hub.sim.truth.tape.spec("BTCUSDT")
    best: dict[str, Decimal] = {}
    for market in ("spot", "usdm"):
        body = (await client.get("/depth/BTCUSDT", params={"market": market})).json()
        book = hub.sim.book_at("BTCUSDT", body["last_update_id"], market)
        places = (-spec.price_decimals - PRICE_DIGITS, -spec.qty_decimals)
        true_bids = [
            (Decimal(p).scaleb(places[0]), Decimal(q).scaleb(places[1])) for p, q in book.bids
        ]
        assert [(Decimal(p), Decimal(q)) for p, q in body["bids"]] == true_bids[:100]
        best[market] = Decimal(body["bids"][0][0])

        trades = (await client.get("/trades/BTCUSDT", params={"market": market})).json()
        ids = [t["id"] for t in trades["trades"]]
        now = hub.sim.clock.now_ms()
        truth = hub.sim.market_truth(market).trades("BTCUSDT", from_id=ids[0], end_ms=now)
        by_id = {t.trade_id: t for t in truth}
        for row in trades["trades"]:
            true_price = Decimal(by_id[row["id"]].price).scaleb(-spec.price_decimals)
            assert Decimal(row["price_formatted"]) == true_price, market
    assert best["spot"] != best["usdm"]


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
        for market in ("spot", "usdm"):
            request = {"op": "subscribe", "symbol": "BTCUSDT", "limit": 3, "market": market}
            await ws.send(orjson.dumps(request))
            snapshot = await receive(ws)
            assert (snapshot["type"], snapshot["market"]) == ("snapshot", market)
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
