"""USD-M futures streams of the simulator over real loopback sockets: routes, the ``pu``
book procedure, forceOrder and kline cadence, against the simulator's truth.

The local book follows Binance's documented USD-M procedure and nothing else: drop events
with ``u < lastUpdateId``, the first applied one has ``U <= lastUpdateId <= u``, every
later one has ``pu`` equal to the previous ``u``.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.wire.futures import FuturesFormatter
from support.wsio import Connecting, connect, gather_for, receive

pytestmark = pytest.mark.timeout(40)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SYMBOL = "BTCUSDT"
Json = dict[str, Any]


def sim(speed: float) -> SimExchange:
    return SimExchange(SimConfig(start_ms=START_MS, speed=speed))


def open_stream(url: str) -> Connecting:
    # An unbounded client queue keeps the client reading frames it never consumes, so
    # closing does not wait out the close timeout behind a full queue.
    return connect(url, max_queue=None)


class FuturesBook:
    """A client's book, kept by Binance's USD-M update rules."""

    def __init__(self, snapshot: Json) -> None:
        self.update_id: int = snapshot["lastUpdateId"]
        self.bids = dict(snapshot["bids"])
        self.asks = dict(snapshot["asks"])
        self.last_u: int | None = None

    def apply(self, event: Json) -> bool:
        """Apply one diff; ``False`` on a sequence break (the book must be rebuilt)."""
        if self.last_u is None:
            if event["u"] < self.update_id:
                return True  # older than the snapshot: drop it
            if event["U"] > self.update_id:
                return False
        elif event["pu"] != self.last_u:
            return False
        for side, changes in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in changes:
                if float(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.update_id = self.last_u = event["u"]
        return True


async def synced_book(ws: ClientConnection, client: httpx.AsyncClient) -> FuturesBook:
    """Buffer events, take a snapshot no older than the first, replay the buffer."""
    buffered = [await receive(ws)]
    while True:
        response = await client.get("/fapi/v1/depth", params={"symbol": SYMBOL, "limit": 1000})
        snapshot = response.json()
        if snapshot["lastUpdateId"] >= buffered[0]["U"]:
            break
        buffered.append(await receive(ws))
    book = FuturesBook(snapshot)
    for event in buffered:
        assert book.apply(event)
    return book


def true_levels(exchange: SimExchange, update_id: int) -> tuple[dict[str, str], dict[str, str]]:
    formatter = FuturesFormatter(exchange.futures_truth.tape.spec(SYMBOL))
    wire = formatter.depth_snapshot(exchange.book_at(SYMBOL, update_id, "usdm"), 5000)
    return dict(wire["bids"]), dict(wire["asks"])


async def follow_and_check(exchange: SimExchange, ws: ClientConnection, book: FuturesBook) -> int:
    """Apply events for a while, comparing with the truth after each; return how many."""
    checked = 0
    for event in await gather_for(ws, 0.8):
        assert book.apply(event)
        assert (book.bids, book.asks) == true_levels(exchange, book.update_id)
        checked += 1
    return checked


async def test_depth_is_delivered_on_public_and_silently_never_on_market() -> None:
    async with (
        sim(5.0) as exchange,
        open_stream(f"{exchange.ws_base}/market/ws/btcusdt@depth@100ms") as wrong,
        open_stream(f"{exchange.ws_base}/public/ws/btcusdt@depth@100ms") as right,
    ):
        await wrong.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}).decode())
        event = await receive(right)
        on_wrong = await gather_for(wrong, 1.0)
    assert set(event) == {"e", "E", "T", "s", "U", "u", "pu", "b", "a"}
    assert on_wrong == [{"result": ["btcusdt@depth@100ms"], "id": 1}]


async def test_klines_and_force_orders_are_delivered_on_market_and_never_on_public() -> None:
    names = "btcusdt@kline_1m/btcusdt@forceOrder/btcusdt@aggTrade"
    async with (
        sim(60.0) as exchange,
        open_stream(f"{exchange.ws_base}/public/stream?streams={names}") as wrong,
        open_stream(f"{exchange.ws_base}/market/stream?streams={names}") as right,
    ):
        delivered = await gather_for(right, 1.0)
        on_wrong = await gather_for(wrong, 0.3)
    assert {m["stream"] for m in delivered} == set(names.split("/"))
    assert on_wrong == []


async def test_local_book_following_the_futures_procedure_equals_the_true_book() -> None:
    async with (
        sim(5.0) as exchange,
        open_stream(f"{exchange.ws_base}/public/ws/btcusdt@depth@100ms") as ws,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        book = await synced_book(ws, client)
        assert (book.bids, book.asks) == true_levels(exchange, book.update_id)
        assert await follow_and_check(exchange, ws, book) > 5


async def test_default_futures_depth_is_chained_by_pu_with_transaction_times() -> None:
    async with (
        sim(1.0) as exchange,
        open_stream(f"{exchange.ws_base}/public/ws/btcusdt@depth") as ws,
    ):
        events = [await receive(ws) for _ in range(4)]
    for previous, event in itertools.pairwise(events):
        assert event["pu"] == previous["u"]
        assert previous["T"] < event["T"] <= event["E"]
        assert event["T"] % 100 == 0  # the open of the last 100 ms batch in the event


async def test_depth_gap_is_seen_through_pu_and_a_resync_recovers() -> None:
    async with (
        sim(5.0) as exchange,
        open_stream(f"{exchange.ws_base}/public/ws/btcusdt@depth@100ms") as ws,
        open_stream(f"{exchange.ws_base}/ws/btcusdt@depth@100ms"),
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        book = await synced_book(ws, client)
        assert exchange.faults.depth_gap(market="usdm") == 1  # the spot socket is spared
        breaking = None
        for _ in range(20):
            event = await receive(ws)
            if not book.apply(event):
                breaking = event
                break
        assert breaking is not None
        assert breaking["pu"] != book.last_u
        assert breaking["U"] == breaking["pu"] + 1  # the event itself looks whole
        book = await synced_book(ws, client)  # resync this book only
        assert await follow_and_check(exchange, ws, book) > 5


async def test_force_orders_are_at_most_one_per_second_and_equal_the_truth() -> None:
    async with (
        sim(60.0) as exchange,
        open_stream(f"{exchange.ws_base}/market/ws/btcusdt@forceOrder") as ws,
    ):
        events = await gather_for(ws, 1.5)
    assert len(events) >= 5
    assert all(event["e"] == "forceOrder" and event["E"] >= event["o"]["T"] for event in events)
    orders = [event["o"] for event in events]
    seconds = [order["T"] // 1000 for order in orders]
    assert seconds == sorted(set(seconds))
    truth = exchange.futures_truth.liquidations(SYMBOL, orders[0]["T"], orders[-1]["T"])
    formatter = FuturesFormatter(exchange.futures_truth.tape.spec(SYMBOL))
    assert orders == [formatter.force_order_event(x, 0)["o"] for x in truth]


async def test_futures_klines_push_every_250ms_and_match_rest() -> None:
    async with (
        sim(1.0) as exchange,
        open_stream(f"{exchange.ws_base}/market/ws/btcusdt@kline_1h") as ws,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        updates = await gather_for(ws, 1.6)
        params: dict[str, str | int] = {"symbol": SYMBOL, "interval": "1h", "limit": 1}
        rows = (await client.get("/fapi/v1/klines", params=params)).json()
    # Spot would push once (every 2 s); futures pushes about six times.
    assert len(updates) >= 3
    last = updates[-1]["k"]
    assert last["t"] == rows[-1][0]
    assert last["n"] <= rows[-1][8]
    assert last["o"] == rows[-1][1]
