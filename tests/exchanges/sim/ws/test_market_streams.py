"""Trade and depth streams over real loopback sockets, against the simulator's truth.

The local book here follows Binance's documented procedure ("How to manage a local order
book correctly") and nothing else, so it passing means a real client would pass too.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.wire.market import MarketFormatter
from support.wsio import connect, gather_for, receive

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SYMBOL = "BTCUSDT"
Json = dict[str, Any]


def sim(speed: float) -> SimExchange:
    return SimExchange(SimConfig(start_ms=START_MS, speed=speed))


def contiguous(ids: list[int]) -> bool:
    return ids == list(range(ids[0], ids[0] + len(ids)))


class LocalBook:
    """A client's book, kept by Binance's documented update rules."""

    def __init__(self, snapshot: Json) -> None:
        self.update_id: int = snapshot["lastUpdateId"]
        self.bids = dict(snapshot["bids"])
        self.asks = dict(snapshot["asks"])

    def apply(self, event: Json) -> bool:
        """Apply one diff; ``False`` on a sequence break (the book must be rebuilt)."""
        if event["u"] <= self.update_id:
            return True  # older than the snapshot: drop it
        if event["U"] > self.update_id + 1:
            return False
        for side, changes in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in changes:
                if float(qty) == 0:
                    side.pop(price, None)  # removing an unknown level is normal
                else:
                    side[price] = qty
        self.update_id = event["u"]
        return True


async def synced_book(ws: ClientConnection, client: httpx.AsyncClient) -> LocalBook:
    """Buffer events, take a snapshot no older than the first, replay the buffer."""
    buffered = [await receive(ws)]
    while True:
        response = await client.get("/api/v3/depth", params={"symbol": SYMBOL, "limit": 1000})
        snapshot = response.json()
        if snapshot["lastUpdateId"] >= buffered[0]["U"]:
            break
        buffered.append(await receive(ws))
    book = LocalBook(snapshot)
    for event in buffered:
        assert book.apply(event)
    return book


def true_levels(exchange: SimExchange, update_id: int) -> tuple[dict[str, str], dict[str, str]]:
    formatter = MarketFormatter(exchange.truth.tape.spec(SYMBOL))
    wire = formatter.depth_snapshot(exchange.book_at(SYMBOL, update_id), 5000)
    return dict(wire["bids"]), dict(wire["asks"])


async def follow_and_check(exchange: SimExchange, ws: ClientConnection, book: LocalBook) -> int:
    """Apply events for a while, comparing with the truth after each; return how many."""
    checked = 0
    for event in await gather_for(ws, 0.8):
        assert book.apply(event)
        assert (book.bids, book.asks) == true_levels(exchange, book.update_id)
        checked += 1
    return checked


async def test_trade_and_agg_trade_streams_match_the_truth() -> None:
    names = "btcusdt@trade/btcusdt@aggTrade"
    async with sim(1.0) as exchange, connect(f"{exchange.ws_base}/stream?streams={names}") as ws:
        messages = await gather_for(ws, 1.5)
    trades = [m["data"] for m in messages if m["stream"] == "btcusdt@trade"]
    aggs = [m["data"] for m in messages if m["stream"] == "btcusdt@aggTrade"]
    assert len(trades) > 5
    assert set(trades[0]) == set("eEstpqTmM")
    assert set(aggs[0]) == set("eEsapqflTmM")
    assert aggs[0]["e"] == "aggTrade"
    ids = [t["t"] for t in trades]
    assert contiguous(ids)
    assert [a["a"] for a in aggs] == ids[: len(aggs)]
    assert all(t["E"] >= t["T"] for t in trades)
    truth = exchange.truth.trades(SYMBOL, from_id=ids[0], end_ms=trades[-1]["T"])
    formatter = MarketFormatter(exchange.truth.tape.spec(SYMBOL))
    expected = [formatter.trade_event(t, 0) for t in truth[: len(trades)]]
    assert [t | {"E": 0} for t in trades] == expected


async def test_trade_gap_leaves_a_ws_hole_that_rest_fills() -> None:
    async with (
        sim(1.0) as exchange,
        connect(f"{exchange.ws_base}/ws/btcusdt@trade") as ws,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        before = [await receive(ws)]
        assert exchange.faults.trade_gap(3) == 1
        seen = before + await gather_for(ws, 1.0)
        ids = [t["t"] for t in seen]
        holes = [(a, b) for a, b in itertools.pairwise(ids) if b != a + 1]
        assert holes == [(holes[0][0], holes[0][0] + 4)]
        params = {"symbol": SYMBOL, "fromId": holes[0][0] + 1, "limit": 3}
        filled = (await client.get("/api/v3/aggTrades", params=params)).json()
        merged = sorted(ids + [row["a"] for row in filled])
        assert contiguous(merged)
        truth = exchange.truth.trades(SYMBOL, from_id=merged[0], end_ms=seen[-1]["T"])
        assert [t.trade_id for t in truth][: len(merged)] == merged


async def test_local_book_following_binance_procedure_equals_the_true_book() -> None:
    async with (
        sim(5.0) as exchange,
        connect(f"{exchange.ws_base}/ws/btcusdt@depth@100ms") as ws,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        first = await receive(ws)
        assert set(first) == set("eEsUuba")
        assert first["e"] == "depthUpdate"
        book = await synced_book(ws, client)
        assert await follow_and_check(exchange, ws, book) > 5


async def test_depth_stream_chains_update_ids_every_second() -> None:
    async with sim(10.0) as exchange, connect(f"{exchange.ws_base}/ws/btcusdt@depth") as ws:
        events = [await receive(ws, timeout=10) for _ in range(4)]
    for previous, event in itertools.pairwise(events):
        assert event["U"] == previous["u"] + 1
        # Whole seconds of ten 100 ms batches each; a tick delayed on a busy machine may
        # carry two seconds at once, but never a partial one.
        assert (event["u"] - event["U"] + 1) % 10 == 0


async def test_depth_gap_breaks_the_chain_and_a_resync_recovers() -> None:
    async with (
        sim(5.0) as exchange,
        connect(f"{exchange.ws_base}/ws/btcusdt@depth@100ms") as ws,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        book = await synced_book(ws, client)
        assert exchange.faults.depth_gap() == 1
        broken = False
        for _ in range(20):
            if not book.apply(await receive(ws)):
                broken = True
                break
        assert broken
        book = await synced_book(ws, client)  # resync this book only
        assert await follow_and_check(exchange, ws, book) > 5


async def test_market_streams_subscribe_and_list_by_their_binance_names() -> None:
    async with sim(1.0) as exchange, connect(f"{exchange.ws_base}/ws") as ws:
        names = ["btcusdt@depth@100ms", "ethusdt@aggTrade", "btcusdt@trade", "btcusdt@depth"]
        await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}).decode())
        await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}).decode())
        await ws.send(
            orjson.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 3}).decode()
        )
        replies = {m["id"]: m for m in await gather_for(ws, 0.5) if "id" in m}
    assert replies[1]["result"] is None
    assert replies[2]["result"] == names
    assert replies[3]["error"]["code"] == 2
