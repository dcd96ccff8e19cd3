"""The exact book, end to end: ``GET /depth`` and the ``depth`` channel against the
simulator's true book, level for level (Decimal-exact), through sequence breaks and
dropped connections, with orders resting between ticks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from api.native.book_truth import Levels, parsed, true_book
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.truth.book import SLOT_MS
from marketcast.exchanges.sim.wire.streams import Market
from support.servers import running_hub, wait_ready
from support.wsio import connect, receive

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SYMBOL = "BTCUSDT"
SIM = SimConfig(seed=11, symbols=(SYMBOL, "ETHUSDT"), futures_symbols=(SYMBOL,), speed=10.0)
Json = dict[str, Any]

SIMULATED_MINUTES = 2
UPDATES_PER_MINUTE = 60_000 // SLOT_MS  # the simulator's book moves once per slot


def truth(sim: SimExchange, market: Market, update_id: int) -> tuple[Levels, Levels]:
    return true_book(sim, SYMBOL, market, update_id)


def off_tick(levels: Levels, tick: Decimal) -> list[Decimal]:
    return [price for price, _ in levels if price % tick]


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def depth(http: httpx.AsyncClient, **params: Any) -> Json:
    """``/depth`` once the book serves (503 while it resyncs after a fault)."""
    async with asyncio.timeout(60):
        while True:
            response = await http.get(f"/depth/{SYMBOL}", params=params)
            if response.status_code != 503:
                assert response.status_code == 200, response.text
                body: Json = response.json()
                return body
            await asyncio.sleep(0.1)


def resyncs(health: Json) -> int:
    return int(health["upstream"]["feeds"]["books"]["books"][SYMBOL]["resyncs"])


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_rest_depth_is_the_true_book_through_breaks_and_drops(market: Market) -> None:
    async with (
        running_hub(SIM, market=market, symbols=(SYMBOL,)) as hub,
        httpx.AsyncClient(base_url=hub.http, timeout=30) as http,
    ):
        await wait_ready(hub.http)
        body = await depth(http, limit=1000)
        assert set(body) == {"symbol", "market", "last_update_id", "bids", "asks"}
        assert (body["symbol"], body["market"]) == (SYMBOL, market)
        bids, asks = parsed(body["bids"]), parsed(body["asks"])
        assert (bids, asks) == truth(hub.sim, market, body["last_update_id"])
        tick = Decimal(1).scaleb(-hub.sim.truth.tape.spec(SYMBOL).price_decimals)
        assert off_tick(bids + asks, tick), "the simulator rests some orders between ticks"
        # The exchange's own strings, not re-formatted numbers.
        assert all(text == str(Decimal(text)) for row in body["bids"] for text in row)

        top = await depth(http, limit=5)
        assert [len(top["bids"]), len(top["asks"])] == [5, 5]
        assert len((await depth(http))["bids"]) == len(bids)  # default 100 >= the sim's book
        refused = await http.get(f"/depth/{SYMBOL}", params={"limit": 1001})
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_limit")

        faults: tuple[Callable[[], int], ...] = (
            lambda: hub.sim.faults.depth_gap(1),
            hub.sim.faults.drop_connections,
        )
        for fault in faults:
            before = resyncs((await http.get("/health")).json())
            assert fault() >= 1
            # The book resyncs (a broken chain, a reconnected stream) and is served again,
            # equal to the truth at its own update id.
            await until_resynced(http, before)
            body = await depth(http, limit=1000)
            assert (parsed(body["bids"]), parsed(body["asks"])) == truth(
                hub.sim, market, body["last_update_id"]
            )


async def until_resynced(http: httpx.AsyncClient, before: int) -> None:
    """Until the book counted a resync past ``before`` and is synced again."""
    async with asyncio.timeout(60):
        while True:
            book = (await http.get("/health")).json()["upstream"]["feeds"]["books"]["books"]
            if book[SYMBOL]["resyncs"] > before and book[SYMBOL]["state"] == "synced":
                return
            await asyncio.sleep(0.1)


class Copy:
    """A client's copy of the exact book, kept from one snapshot and the changes after it."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_update = 0
        self.resets = 0
        self.changes = 0

    def take(self, message: Json) -> None:
        if message["type"] == "snapshot":
            assert message["channel"] == "depth"
            self.resets += message["reset"]
            self.bids, self.asks = dict(parsed(message["bids"])), dict(parsed(message["asks"]))
        else:
            assert message["type"] == "depth"
            assert message["first_update_id"] == self.last_update + 1, "a change was skipped"
            for held, rows in ((self.bids, message["bids"]), (self.asks, message["asks"])):
                for price, quantity in parsed(rows):
                    if quantity:
                        held[price] = quantity
                    else:  # like the exchange's, may name a level that came and went
                        held.pop(price, None)
            self.changes += 1
        self.last_update = message["last_update_id"]

    def levels(self) -> tuple[Levels, Levels]:
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_a_depth_client_holds_the_true_book_through_faults(market: Market) -> None:
    async with running_hub(SIM, market=market, symbols=(SYMBOL,)) as hub:
        await wait_ready(hub.http)
        async with connect(f"{hub.ws}/ws", max_size=None) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channel": "depth", "symbol": SYMBOL}))
            copy = Copy()
            copy.take(await receive(ws))
            assert copy.levels() == truth(hub.sim, market, copy.last_update)
            start, checks = copy.last_update, 1
            faults: dict[int, Callable[[], int]] = {
                1: lambda: hub.sim.faults.depth_gap(1),
                2: hub.sim.faults.drop_connections,
                3: lambda: hub.sim.faults.depth_gap(1),
            }
            span = SIMULATED_MINUTES * UPDATES_PER_MINUTE
            # Until the span is covered, every fault injected, and a resync seen through.
            while copy.last_update - start < span or faults or not copy.resets:
                due = (copy.last_update - start) * 4 // span
                if due in faults:
                    assert faults.pop(due)() >= 1
                message = await receive(ws, timeout=60)
                assert message["symbol"] == SYMBOL
                assert message["market"] == market
                copy.take(message)
                assert copy.levels() == truth(hub.sim, market, copy.last_update), message["type"]
                checks += 1
    assert copy.resets >= 1, "the dropped stream's resync sends a new snapshot"
    assert copy.changes == checks - 1 - copy.resets  # every message was checked
    assert copy.changes >= 10


async def test_the_largest_limit_is_what_each_markets_snapshot_holds() -> None:
    # BOOK_DEPTH 5000: spot's snapshot takes 5000 levels, USD-M's stops at 1000.
    async with (
        running_hub(SIM, symbols=(SYMBOL,), usdm_symbols=(SYMBOL,), book_depth=5000) as hub,
        httpx.AsyncClient(base_url=hub.http, timeout=30) as http,
    ):
        await wait_ready(hub.http)
        spot = await depth(http, limit=5000)
        assert spot["market"] == "spot"
        usdm = await depth(http, limit=1000, market="usdm")
        assert usdm["market"] == "usdm"
        assert (parsed(usdm["bids"]), parsed(usdm["asks"])) == truth(
            hub.sim, "usdm", usdm["last_update_id"]
        )
        cases: tuple[tuple[dict[str, str | int], str], ...] = (
            ({"limit": 1001, "market": "usdm"}, "1..1000"),
            ({"limit": 1001, "market": "USDM"}, "1..1000"),
            ({"limit": 5001}, "1..5000"),
            ({"limit": 5001, "market": "spot"}, "1..5000"),
        )
        for params, allowed in cases:
            refused = await http.get(f"/depth/{SYMBOL}", params=params)
            assert (refused.status_code, refused.json()["code"]) == (400, "invalid_limit")
            assert allowed in refused.json()["detail"], params
        unified = await http.get("/depth/BTC/USDT:USDT", params={"limit": 1001})
        assert "1..1000" in unified.json()["detail"]
