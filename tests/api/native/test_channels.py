"""The native orderbook, trades and liquidations channels (``/ws``) and REST routes.

A real node (simulator, symbol service, sockets) serves the API; its three feeds are
replaced by small in-process feeds built on the real domain cores (``OrderBook`` with
``ViewCache``, ``TradeTape``, ``VolumeBuckets``) that the tests drive by hand. That pins
what the API layer owns: message shapes, parameter errors, snapshot-then-updates,
re-subscribe, and that every acquired feed is released exactly once.

The ``test_e2e_*`` tests at the end run against the node's own feeds and compare with the
simulator's truth (its book at an update id, ``/api/v3/aggTrades``, its forced orders).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import httpx
import orjson
import pytest
import pytest_asyncio
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from marketcast.api.app import create_app
from marketcast.api.feeds import lookup as feed_params
from marketcast.api.native import channels as native_feeds
from marketcast.api.state import AppState
from marketcast.domain.book_side import Level
from marketcast.domain.book_view import ViewCache, aggregate
from marketcast.domain.depth_journal import START_OVER, Depth, StartOver
from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import (
    LIQUIDATION_TIMEFRAMES,
    Bucket,
    Liquidation,
    VolumeBuckets,
)
from marketcast.domain.market import SymbolMeta
from marketcast.domain.orderbook import BookSnapshot, OrderBook, SyncRule
from marketcast.domain.trades import Trade, TradeTape
from marketcast.errors import NotReady
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.truth.book import PRICE_DIGITS
from support.servers import hub_settings, serve_app, wait_ready
from support.wsio import connect, gather_for, receive, receive_until

T = TypeVar("T")

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

Json = dict[str, Any]

SIM = SimConfig(seed=41, symbols=("BTCUSDT", "ETHUSDT"), start_ms=1_714_521_600_000, speed=60.0)
BOOK_MAX = 25
TAPE = 30
CAP = 4
T0 = 1_714_521_600_000


# -- feeds driven by the tests ----------------------------------------------------------
class Holds:
    """Acquire/release bookkeeping shared by the three feeds."""

    def __init__(self) -> None:
        self.held: Counter[str] = Counter()
        self.double_releases = 0

    async def acquire(self, symbol: str) -> Callable[[], None]:
        self.held[symbol] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                self.double_releases += 1
                return
            released = True
            self.held[symbol] -= 1

        return release

    def status(self) -> dict[str, Any]:
        return {}


class Listeners(Generic[T]):
    def __init__(self) -> None:
        self.by_symbol: dict[str, list[Callable[[T], None]]] = {}

    def watch(self, symbol: str, listener: Callable[[T], None]) -> Callable[[], None]:
        self.by_symbol.setdefault(symbol, []).append(listener)
        return lambda: self.by_symbol[symbol].remove(listener)

    def call(self, symbol: str, news: T) -> None:
        for listener in list(self.by_symbol.get(symbol, ())):
            listener(news)

    def count(self) -> int:
        return sum(len(found) for found in self.by_symbol.values())


class Books(Holds):
    def __init__(self, mid: Decimal, tick: Decimal) -> None:
        super().__init__()
        self.mid, self.tick = mid, tick
        self.book = OrderBook(SyncRule.SPOT)
        self.cache = ViewCache(self.book, amount_precision=3)
        self.listeners = Listeners[int]()
        self.update_id = itertools.count(100)
        self.move(0)

    def move(self, shift: int) -> None:
        """Load a fresh book whose mid moved ``shift`` ticks, and push it."""
        mid = self.mid + shift * self.tick
        bids = tuple((mid - k * self.tick, Decimal(k % 7 + 1) / 10) for k in range(1, 400))
        asks = tuple((mid + k * self.tick, Decimal(k % 5 + 1) / 10) for k in range(1, 400))
        self.book.on_snapshot(BookSnapshot(next(self.update_id), bids, asks, T0 + shift))
        self.listeners.call("BTCUSDT", self.book.version)

    def view(self, symbol: str, limit: int, rounding: Decimal) -> Any:
        return self.cache.view(limit, rounding)

    def depth(self, symbol: str, limit: int | None = None) -> Depth:
        # Every move loads a new snapshot: each is its own epoch.
        assert self.book.last_update is not None
        return Depth(self.book.version, self.book.last_update, *self.sides(limit))

    def sides(self, limit: int | None) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        bids, asks = tuple(self.book.bids), tuple(self.book.asks)
        return (bids, asks) if limit is None else (bids[:limit], asks[:limit])

    def depth_since(self, symbol: str, epoch: int, update_id: int) -> StartOver | None:
        return None if epoch == self.book.version else START_OVER

    def watch(self, symbol: str, listener: Callable[[int], None]) -> Callable[[], None]:
        return self.listeners.watch(symbol, listener)


class Tapes(Holds):
    def __init__(self) -> None:
        super().__init__()
        self.tape = TradeTape(TAPE)
        self.listeners = Listeners[Sequence[Trade]]()
        self.breaks = Listeners[int]()

    def add(self, ids: range) -> list[Trade]:
        added = self.tape.add(trade(i) for i in ids)
        released = self.tape.release()  # as the hub's tapes: in id order, or a break
        if released.broke:
            self.breaks.call("BTCUSDT", self.tape.breaks)
        elif released.trades:
            self.listeners.call("BTCUSDT", released.trades)
        return added

    def recent(self, symbol: str, limit: int) -> list[Trade]:
        return self.tape.continuous(limit)

    def watch(self, symbol: str, listener: Callable[[Sequence[Trade]], None]) -> Callable[[], None]:
        return self.listeners.watch(symbol, listener)

    def watch_breaks(self, symbol: str, listener: Callable[[int], None]) -> Callable[[], None]:
        return self.breaks.watch(symbol, listener)


class Liquidations(Holds):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Liquidation] = []  # oldest first
        self.buckets = {
            code: VolumeBuckets(Interval.parse(code)) for code in LIQUIDATION_TIMEFRAMES
        }
        self.listeners = Listeners[Liquidation]()
        self.catalog_loaded = True

    def covers(self, symbol: str) -> bool:
        if not self.catalog_loaded:  # as the keeper: unknown is not "no perpetual"
            raise NotReady("USD-M symbol list not loaded yet; retry")
        return symbol == "BTCUSDT"

    def add(self, liquidation: Liquidation) -> None:
        self.seen.append(liquidation)
        for buckets in self.buckets.values():
            buckets.add(liquidation)
        self.listeners.call(liquidation.symbol, liquidation)

    def recent(self, symbol: str, limit: int = 50) -> list[Liquidation]:
        return self.seen[::-1][:limit]

    def volume(self, symbol: str, timeframe: Interval, start_ms: int, end_ms: int) -> list[Bucket]:
        return self.buckets[timeframe.code].range(start_ms, end_ms)

    def bucket(self, symbol: str, timeframe: Interval, time_ms: int) -> Bucket | None:
        found = self.buckets[timeframe.code].range(time_ms, time_ms)
        return found[0] if found else None

    def watch(self, symbol: str, listener: Callable[[Liquidation], None]) -> Callable[[], None]:
        return self.listeners.watch(symbol, listener)


def trade(trade_id: int) -> Trade:
    price = Decimal(60000) + Decimal(trade_id % 13) / 100
    return Trade(trade_id, price, Decimal("0.015"), trade_id % 2 == 0, T0 + trade_id * 250)


def liquidation(n: int, side: str = "SELL") -> Liquidation:
    return Liquidation(
        "BTCUSDT",
        "SELL" if side == "SELL" else "BUY",
        Decimal("0.25") * n,
        Decimal(59000 + n),
        Decimal(59000 + n),
        T0 + n * 70_000,
    )


# -- fixtures ---------------------------------------------------------------------------
@dataclass
class Node:
    app: FastAPI
    http: str

    @property
    def ws(self) -> str:
        return self.http.replace("http://", "ws://", 1)

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.marketcast
        return state


@dataclass
class Feeds:
    books: Books
    trades: Tapes
    liquidations: Liquidations
    meta: SymbolMeta


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node() -> AsyncIterator[Node]:
    async with SimExchange(SIM) as sim:
        settings = hub_settings(
            sim,
            symbols=("BTCUSDT",),
            buffer_size=50,
            max_orderbook_limit=BOOK_MAX,
            trade_history=TAPE,
            liquidation_history=60,
            max_subscriptions_per_connection=CAP,
        )
        app = create_app(settings, simulated=True)
        async with serve_app(app) as http:
            await wait_ready(http)
            yield Node(app, http)


@pytest_asyncio.fixture(loop_scope="module")
async def feeds(node: Node) -> AsyncIterator[Feeds]:
    state = node.state
    assert state.symbols is not None
    meta = await state.symbols.get("BTCUSDT")
    assert meta.last_price is not None
    installed = Feeds(Books(meta.last_price, meta.tick_size), Tapes(), Liquidations(), meta)
    saved = (state.books, state.trades, state.liquidations)
    state.books, state.trades = installed.books, installed.trades
    # Liquidations are the node's, USD-M's: every market's state reads the one feed.
    for market in state.markets.values():
        market.liquidations = installed.liquidations
    yield installed
    state.books, state.trades = saved[:2]
    for market in state.markets.values():
        market.liquidations = saved[2]
    for holds in (installed.books, installed.trades, installed.liquidations):
        assert holds.double_releases == 0


@pytest_asyncio.fixture(loop_scope="module")
async def client(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.http, timeout=10.0) as http:
        yield http


def sub(channel: str, symbol: str = "BTCUSDT", op: str = "subscribe", **params: Any) -> str:
    return orjson.dumps({"op": op, "channel": channel, "symbol": symbol} | params).decode()


def typed(kind: str, channel: str | None = None) -> Callable[[Json], bool]:
    return lambda m: m.get("type") == kind and channel in (None, m.get("channel"))


async def settle(ws: ClientConnection) -> list[Json]:
    """Everything the server queued before it answered a ping."""
    await ws.send('{"op":"ping"}')
    return (await receive_until(ws, typed("pong")))[:-1]


# -- no feed on this node ---------------------------------------------------------------
@pytest.mark.parametrize("channel", ["orderbook", "trades", "liquidations"])
async def test_a_node_without_the_feed_answers_not_ready(
    node: Node, client: httpx.AsyncClient, channel: str
) -> None:
    state = node.state
    saved = (state.books, state.trades, state.liquidations)
    state.books = state.trades = state.liquidations = None
    try:
        async with connect(f"{node.ws}/ws") as ws:
            await ws.send(sub(channel))
            error = await receive(ws)
            assert (error["type"], error["code"]) == ("error", "not_ready")
        response = await client.get(f"/{channel}/BTCUSDT")
        assert response.status_code == 503
        assert response.json()["code"] == "not_ready"
    finally:
        state.books, state.trades, state.liquidations = saved


# -- orderbook --------------------------------------------------------------------------
def assert_consistent_book(body: Json, limit: int) -> None:
    bids, asks = body["bids"], body["asks"]
    assert 0 < len(bids) <= limit
    assert 0 < len(asks) <= limit
    bid_prices = [level["price"] for level in bids]
    ask_prices = [level["price"] for level in asks]
    # Best first, one level per bucket: bids strictly descending, asks strictly ascending.
    assert all(a > b for a, b in itertools.pairwise(bid_prices))
    assert all(a < b for a, b in itertools.pairwise(ask_prices))
    assert bid_prices[0] < ask_prices[0]
    rounding = Decimal(repr(body["rounding"]))
    for side in (bids, asks):
        total = Decimal(0)
        for level in side:
            assert set(level) == {
                "price", "amount", "cumulative",
                "price_formatted", "amount_formatted", "cumulative_formatted",
            }  # fmt: skip
            assert Decimal(level["price_formatted"]) % rounding == 0
            total += Decimal(level["amount_formatted"])
            assert Decimal(level["cumulative_formatted"]) == total
            assert level["cumulative"] == float(total)


async def test_orderbook_snapshot_is_the_default_view_then_a_full_view_per_change(
    node: Node, feeds: Feeds
) -> None:
    meta = feeds.meta
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("orderbook", "btc/usdt"))
        snapshot = await receive(ws)
        assert (snapshot["type"], snapshot["channel"], snapshot["symbol"]) == (
            "snapshot",
            "orderbook",
            "BTCUSDT",
        )
        assert snapshot["market"] == "spot"  # the node's default market, named
        assert set(snapshot) == {
            "type", "channel", "symbol", "market", "limit", "rounding", "rounding_options",
            "price_precision", "amount_precision", "bids", "asks", "depth", "update_id",
            "timestamp", "version",
        }  # fmt: skip
        assert snapshot["limit"] == feed_params.DEFAULT_BOOK_LIMIT
        assert snapshot["rounding"] == float(meta.default_rounding)
        assert snapshot["rounding_options"] == [float(o) for o in meta.rounding_options]
        assert_consistent_book(snapshot, feed_params.DEFAULT_BOOK_LIMIT)
        assert snapshot["depth"]["best_bid"] < snapshot["depth"]["best_ask"]

        feeds.books.move(3)
        update = await receive(ws)
        assert set(update) == set(snapshot) - {"rounding_options"}
        assert (update["type"], update["channel"], update["symbol"]) == (
            "orderbook",
            "orderbook",
            "BTCUSDT",
        )
        assert update["version"] > snapshot["version"]
        assert update["update_id"] == snapshot["update_id"] + 1
        assert_consistent_book(update, feed_params.DEFAULT_BOOK_LIMIT)


async def test_orderbook_resubscribe_changes_params_without_a_reconnect(
    node: Node, feeds: Feeds
) -> None:
    coarse = feeds.meta.rounding_options[-1]
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("orderbook", limit=BOOK_MAX))
        assert (await receive(ws))["limit"] == BOOK_MAX
        await ws.send(sub("orderbook", limit=3, rounding=format(coarse, "f")))
        changed = await receive(ws)
        assert (changed["type"], changed["limit"], changed["rounding"]) == (
            "snapshot",
            3,
            float(coarse),
        )
        assert_consistent_book(changed, 3)
        assert feeds.books.held["BTCUSDT"] == 1  # the first subscription let go
        assert feeds.books.listeners.count() == 1
        feeds.books.move(-2)
        after = await settle(ws)
    assert [(m["type"], m["limit"], m["rounding"]) for m in after] == [
        ("orderbook", 3, float(coarse))
    ]


async def test_a_refused_resubscribe_keeps_the_previous_book(node: Node, feeds: Feeds) -> None:
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("orderbook", limit=5))
        await receive(ws)
        await ws.send(sub("orderbook", limit=5, rounding="0.0003"))
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "invalid_rounding")
        feeds.books.move(1)
        update = await receive(ws)
    assert (update["type"], update["limit"]) == ("orderbook", 5)


async def test_one_view_is_encoded_once_for_every_client_with_those_params(
    node: Node, feeds: Feeds
) -> None:
    async with connect(f"{node.ws}/ws") as first, connect(f"{node.ws}/ws") as second:
        for ws in (first, second):
            await ws.send(sub("orderbook", limit=4))
            await receive(ws)
        before = native_feeds.shared_encodings.encoded
        feeds.books.move(5)
        texts = [await first.recv(), await second.recv()]
    assert texts[0] == texts[1]
    assert native_feeds.shared_encodings.encoded == before + 1


# -- trades -----------------------------------------------------------------------------
TRADE_KEYS = {
    "id", "price", "amount", "side", "timestamp",
    "price_formatted", "amount_formatted", "time_formatted",
}  # fmt: skip


async def test_trades_snapshot_then_new_trades_continuous_by_id(node: Node, feeds: Feeds) -> None:
    feeds.trades.add(range(1, 21))
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("trades", limit=5))
        snapshot = await receive(ws)
        assert set(snapshot) == {"type", "channel", "symbol", "market", "reset", "trades"}
        assert (snapshot["type"], snapshot["channel"], snapshot["reset"]) == (
            "snapshot",
            "trades",
            False,
        )
        assert [t["id"] for t in snapshot["trades"]] == [16, 17, 18, 19, 20]
        assert all(set(t) == TRADE_KEYS for t in snapshot["trades"])
        first = snapshot["trades"][0]
        assert (first["price_formatted"], first["amount_formatted"]) == ("60000.03", "0.01500")
        assert first["side"] == "sell"  # trade 16: the buyer was the maker, a seller took
        feeds.trades.add(range(21, 24))
        feeds.trades.add(range(20, 26))  # repeats are not news
        updates = await settle(ws)
    assert [(u["type"], u["channel"], u["symbol"]) for u in updates] == [
        ("trades", "trades", "BTCUSDT")
    ] * 2
    ids = [t["id"] for u in updates for t in u["trades"]]
    assert ids == [21, 22, 23, 24, 25]


async def test_trades_since_resumes_after_the_last_held_id_or_resets(
    node: Node, feeds: Feeds
) -> None:
    feeds.trades.add(range(1, 41))  # the tape keeps 11..40
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("trades", since=33))
        resumed = await receive(ws)
        await ws.send(sub("trades", since=5, limit=4))
        reset = await receive(ws)
    assert ([t["id"] for t in resumed["trades"]], resumed["reset"]) == (
        [34, 35, 36, 37, 38, 39, 40],
        False,
    )
    assert ([t["id"] for t in reset["trades"]], reset["reset"]) == ([37, 38, 39, 40], True)


async def test_trades_past_a_gap_wait_for_the_fill_so_a_resume_misses_nothing(
    node: Node, feeds: Feeds
) -> None:
    feeds.trades.add(range(1, 21))
    async with connect(f"{node.ws}/ws") as first:
        await first.send(sub("trades", limit=3))
        snapshot = await receive(first)
        feeds.trades.add(range(25, 31))  # 21..24 missing: REST will fill them
        held_back = await settle(first)
        # A client that dropped holding up to 20 resumes after its last id before the fill.
        async with connect(f"{node.ws}/ws") as second:
            await second.send(sub("trades", since=20))
            resumed = await receive(second)
            feeds.trades.add(range(21, 25))  # the fill lets 21..30 through, in order
            feeds.trades.add(range(31, 32))
            after_resume = await settle(second)
        after_fill = await settle(first)
    assert [t["id"] for t in snapshot["trades"]] == [18, 19, 20]
    assert held_back == []  # sent, 25..30 would leave this client holding a hole
    assert (resumed["trades"], resumed["reset"]) == ([], False)
    for updates in (after_fill, after_resume):
        assert [t["id"] for u in updates for t in u["trades"]] == list(range(21, 32))


async def test_trades_lost_for_good_reset_the_subscriber(node: Node, feeds: Feeds) -> None:
    feeds.trades.add(range(1, 21))
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("trades", limit=3))
        await receive(ws)
        feeds.trades.add(range(100, 103))  # 21..72 can never be filled: a hole for good
        start_over = await settle(ws)
        feeds.trades.add(range(73, 100))  # the fill of what the window still reaches
        updates = await settle(ws)
    assert [(m["type"], m["trades"], m["reset"]) for m in start_over] == [("snapshot", [], True)]
    assert [t["id"] for u in updates for t in u["trades"]] == list(range(73, 103))


# -- liquidations -----------------------------------------------------------------------
LIQUIDATION_KEYS = {
    "symbol", "side", "quantity", "quantityFormatted", "priceUsdt", "priceUsdtFormatted",
    "timestamp", "displayTime", "avgPrice", "baseAsset",
}  # fmt: skip
BUCKET_KEYS = {
    "time", "timestamp_ms", "count", "buy_volume", "sell_volume", "total_volume",
    "delta_volume", "buy_volume_formatted", "sell_volume_formatted",
    "total_volume_formatted", "delta_volume_formatted",
}  # fmt: skip


async def test_liquidations_snapshot_is_a_flagged_sample_newest_first_then_each_one(
    node: Node, feeds: Feeds
) -> None:
    for n in range(1, 6):
        feeds.liquidations.add(liquidation(n, "SELL" if n % 2 else "BUY"))
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("liquidations", limit=3))
        snapshot = await receive(ws)
        assert set(snapshot) == {
            "type", "channel", "symbol", "market", "sample", "note", "liquidations",
        }  # fmt: skip
        assert (snapshot["type"], snapshot["channel"], snapshot["sample"]) == (
            "snapshot",
            "liquidations",
            True,
        )
        # Asked without a market on a spot node: still USD-M's liquidations, named so.
        assert snapshot["market"] == "usdm"
        assert "sample" in snapshot["note"]
        rows = snapshot["liquidations"]
        assert [r["timestamp"] for r in rows] == [liquidation(n).time_ms for n in (5, 4, 3)]
        assert all(set(r) == LIQUIDATION_KEYS for r in rows)
        assert (rows[0]["side"], rows[0]["quantity"], rows[0]["baseAsset"]) == ("SELL", 1.25, "BTC")
        feeds.liquidations.add(liquidation(6, "BUY"))
        update = await receive(ws)
    assert set(update) == {"type", "channel", "symbol", "market", "liquidation"}
    assert (update["type"], update["symbol"], update["market"]) == (
        "liquidation",
        "BTCUSDT",
        "usdm",
    )
    assert (update["liquidation"]["side"], update["liquidation"]["timestamp"]) == (
        "BUY",
        liquidation(6).time_ms,
    )


async def test_liquidations_with_a_timeframe_add_buckets_and_a_bucket_per_update(
    node: Node, feeds: Feeds
) -> None:
    for n in range(1, 4):
        feeds.liquidations.add(liquidation(n))  # 70 s apart: 5m buckets of 0:00 and 0:05
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("liquidations", timeframe="5m"))
        snapshot = await receive(ws)
        assert snapshot["timeframe"] == "5m"
        volume = snapshot["volume"]
        assert [(b["timestamp_ms"], b["count"]) for b in volume] == [(T0, 3)]
        assert all(set(b) == BUCKET_KEYS for b in volume)
        assert volume[0]["sell_volume"] == float(sum(liquidation(n).quote_value for n in (1, 2, 3)))
        feeds.liquidations.add(liquidation(4, "BUY"))  # 280 s: still the first bucket
        update = await receive(ws)
    assert update["timeframe"] == "5m"
    bucket = update["bucket"]
    assert (bucket["timestamp_ms"], bucket["count"]) == (T0, 4)
    assert bucket["buy_volume"] == float(liquidation(4).quote_value)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/liquidations/BTCUSDT", {}),
        ("/liquidations/BTCUSDT", {"market": "usdm"}),
        ("/liquidations/BTCUSDT", {"market": " USDM "}),
        ("/liquidations/BTC/USDT:USDT", {}),
        ("/liquidations/btc/usdt:usdt", {"market": "usdm"}),
    ],
    ids=["no-market", "usdm", "usdm-spelled-loosely", "unified", "unified-and-usdm"],
)
async def test_rest_liquidations_are_usdms_with_or_without_a_market(
    feeds: Feeds, client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    feeds.liquidations.add(liquidation(1))
    response = await client.get(path, params=params | {"limit": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["symbol"], body["market"]) == ("BTCUSDT", "usdm")
    assert [row["timestamp"] for row in body["liquidations"]] == [liquidation(1).time_ms]
    assert feeds.liquidations.held["BTCUSDT"] == 0


@pytest.mark.parametrize(
    ("path", "params", "said"),
    [
        ("/liquidations/BTCUSDT", {"market": "spot"}, "only on USD-M"),
        ("/liquidations/BTC/USDT", {}, "only on USD-M"),
        ("/liquidations/BTCUSDT", {"market": "coinm"}, "valid markets: spot, usdm"),
        ("/liquidations/BTC/USDT:USDT", {"market": "spot"}, "is a usdm symbol"),
        ("/liquidations/BTC/USD:BTC", {}, "settles in BTC"),
    ],
    ids=["spot", "spot-unified", "unknown", "disagreeing", "coin-margined"],
)
async def test_rest_liquidations_of_another_market_are_refused_as_invalid_market(
    feeds: Feeds, client: httpx.AsyncClient, path: str, params: dict[str, str], said: str
) -> None:
    response = await client.get(path, params=params)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_market")
    assert said in response.json()["detail"]
    assert sum(feeds.liquidations.held.values()) == 0


async def test_ws_liquidations_are_held_once_as_usdm_however_asked(
    node: Node, feeds: Feeds
) -> None:
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("liquidations", "BTC/USDT:USDT", limit=1))
        first = await receive(ws)
        assert (first["type"], first["market"], first["symbol"]) == ("snapshot", "usdm", "BTCUSDT")
        # Without a market it is the same subscription: replaced, not held twice.
        await ws.send(sub("liquidations", limit=1))
        second = await receive(ws)
        assert (second["type"], second["market"]) == ("snapshot", "usdm")
        assert feeds.liquidations.held["BTCUSDT"] == 1
        await ws.send(sub("liquidations", market="spot"))
        refused = await receive(ws)
        assert (refused["type"], refused["code"]) == ("error", "invalid_market")
        assert "only on USD-M" in refused["message"]
        feeds.liquidations.add(liquidation(7))
        (update,) = await settle(ws)
        assert (update["type"], update["market"]) == ("liquidation", "usdm")
        await ws.send(sub("liquidations", op="unsubscribe", market="usdm"))
        answer = await receive(ws)
        assert answer == {
            "type": "unsubscribed",
            "channel": "liquidations",
            "market": "usdm",
            "symbol": "BTCUSDT",
        }
        assert feeds.liquidations.held["BTCUSDT"] == 0


async def test_liquidations_of_a_symbol_without_a_perpetual_are_refused(
    node: Node, feeds: Feeds, client: httpx.AsyncClient
) -> None:
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("liquidations", "ETHUSDT"))
        error = await receive(ws)
    assert (error["type"], error["code"]) == ("error", "no_liquidations")
    assert "ETHUSDT" in error["message"]
    response = await client.get("/liquidations/ETHUSDT")
    assert (response.status_code, response.json()["code"]) == (404, "no_liquidations")
    assert feeds.liquidations.held["ETHUSDT"] == 0


async def test_liquidations_before_the_perpetuals_are_known_are_retryable(
    node: Node, feeds: Feeds, client: httpx.AsyncClient
) -> None:
    feeds.liquidations.catalog_loaded = False
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub("liquidations"))
        error = await receive(ws)
    assert (error["type"], error["code"]) == ("error", "not_ready")
    response = await client.get("/liquidations/BTCUSDT")
    assert (response.status_code, response.json()["code"]) == (503, "not_ready")
    assert feeds.liquidations.held["BTCUSDT"] == 0


# -- subscriptions hold and release their feed --------------------------------------------
@pytest.mark.parametrize("channel", ["orderbook", "trades", "liquidations"])
async def test_unsubscribe_stops_updates_and_releases_the_feed(
    node: Node, feeds: Feeds, channel: str
) -> None:
    holds = {"orderbook": feeds.books, "trades": feeds.trades, "liquidations": feeds.liquidations}
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub(channel))
        await receive(ws)
        assert holds[channel].held["BTCUSDT"] == 1
        await ws.send(sub(channel, "btcusdt", op="unsubscribe"))
        answer = await receive(ws)
        assert answer == {
            "type": "unsubscribed",
            "channel": channel,
            # Held under the market its messages name: liquidations are USD-M's.
            "market": "usdm" if channel == "liquidations" else "spot",
            "symbol": "BTCUSDT",
        }
        assert holds[channel].held["BTCUSDT"] == 0
        feeds.books.move(1)
        feeds.trades.add(range(100, 103))
        feeds.liquidations.add(liquidation(9))
        assert await settle(ws) == []


@pytest.mark.parametrize("channel", ["trades", "liquidations"])
async def test_a_subscribe_whose_snapshot_read_fails_releases_the_feed(
    node: Node, feeds: Feeds, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    holds = feeds.trades if channel == "trades" else feeds.liquidations

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise NotReady("history is loading (injected)")

    monkeypatch.setattr(holds, "recent", broken)
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(sub(channel))
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "not_ready")
        assert holds.held["BTCUSDT"] == 0


async def test_closing_the_socket_releases_every_feed(node: Node, feeds: Feeds) -> None:
    async with connect(f"{node.ws}/ws") as ws:
        for channel in ("orderbook", "trades", "liquidations"):
            await ws.send(sub(channel))
            await receive(ws)
    for holds in (feeds.books, feeds.trades, feeds.liquidations):
        async with asyncio.timeout(5):
            while holds.held["BTCUSDT"]:
                await asyncio.sleep(0.02)
        assert holds.listeners.count() == 0


async def test_feed_subscriptions_count_against_the_per_connection_cap(
    node: Node, feeds: Feeds
) -> None:
    async def answer(ws: ClientConnection, message: str) -> Json:
        """The reply to ``message``; live updates of earlier subscriptions may come first."""
        await ws.send(message)
        return (await receive_until(ws, lambda m: m.get("type") in ("snapshot", "error")))[-1]

    async with connect(f"{node.ws}/ws") as ws:
        for channel in ("orderbook", "trades", "liquidations"):
            assert (await answer(ws, sub(channel)))["type"] == "snapshot"
        candles = orjson.dumps({"op": "subscribe", "symbol": "BTCUSDT"}).decode()
        assert (await answer(ws, candles))["type"] == "snapshot"  # the 4th: candles
        replacement = sub("orderbook", limit=2)  # a replacement is not one more
        assert (await answer(ws, replacement))["type"] == "snapshot"
        refused = [
            await answer(ws, one_more)
            for one_more in (
                sub("trades", "ETHUSDT"),
                orjson.dumps({"op": "subscribe", "symbol": "ETHUSDT"}).decode(),
                sub("indicators", "ETHUSDT"),
            )
        ]
    assert [(e["type"], e.get("code")) for e in refused] == [("error", "capacity_exceeded")] * 3


# -- parameter errors -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "code", "hint"),
    [
        (sub("orderbook", limit=0), "invalid_limit", f"1..{BOOK_MAX}"),
        (sub("orderbook", limit=BOOK_MAX + 1), "invalid_limit", f"1..{BOOK_MAX}"),
        (sub("orderbook", rounding="0.0003"), "invalid_rounding", "choose one of"),
        (sub("orderbook", rounding="ten"), "invalid_rounding", "ten"),
        (sub("trades", limit=TAPE + 1), "invalid_limit", f"1..{TAPE}"),
        (sub("trades", since="x"), "malformed", "since"),
        (sub("liquidations", limit=61), "invalid_limit", "1..60"),
        (sub("liquidations", timeframe="2h"), "invalid_interval", "1m, 5m"),
        (sub("trades", "BTCXUSDT"), "unknown_symbol", "BTCUSDT"),
    ],
    ids=[
        "book-limit-0", "book-limit-over", "rounding-not-offered", "rounding-not-a-number",
        "trades-limit-over", "trades-since", "liquidations-limit", "timeframe",
        "unknown-symbol",
    ],
)  # fmt: skip
async def test_bad_params_get_a_coded_error_and_hold_nothing(
    node: Node, feeds: Feeds, message: str, code: str, hint: str
) -> None:
    async with connect(f"{node.ws}/ws") as ws:
        await ws.send(message)
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", code)
        assert hint in error["message"]
        assert await settle(ws) == []
    for holds in (feeds.books, feeds.trades, feeds.liquidations):
        assert sum(holds.held.values()) == 0


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/orderbook/BTCUSDT?limit=0", "invalid_limit"),
        ("/orderbook/BTCUSDT?rounding=0.0003", "invalid_rounding"),
        ("/orderbook/BTCUSDT?rounding=-1", "invalid_rounding"),
        ("/trades/BTCUSDT?limit=abc", "invalid_limit"),
        ("/trades/BTCUSDT?since=abc", "invalid_request"),
        ("/liquidations/BTCUSDT?timeframe=2h", "invalid_interval"),
        ("/liquidations/BTCUSDT?timeframe=1h&start_time=soon", "invalid_request"),
    ],
)
async def test_rest_bad_params_are_clear_400s(
    feeds: Feeds, client: httpx.AsyncClient, path: str, code: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["status_code"]) == (code, 400)
    assert body["detail"]


async def test_rest_bodies_are_the_ws_snapshots(
    node: Node, feeds: Feeds, client: httpx.AsyncClient
) -> None:
    feeds.trades.add(range(1, 9))
    for n in range(1, 4):
        feeds.liquidations.add(liquidation(n))
    option = format(feeds.meta.rounding_options[1], "f")
    requests: list[tuple[str, dict[str, str | int], str]] = [
        ("/orderbook/btc-usdt", {"limit": 4, "rounding": option},
         sub("orderbook", limit=4, rounding=option)),
        ("/trades/BTCUSDT", {"limit": 3, "since": 6}, sub("trades", limit=3, since=6)),
        ("/liquidations/BTCUSDT", {"timeframe": "1m"}, sub("liquidations", timeframe="1m")),
    ]  # fmt: skip
    async with connect(f"{node.ws}/ws") as ws:
        for path, params, message in requests:
            response = await client.get(path, params=params)
            assert response.status_code == 200
            await ws.send(message)
            snapshot = await receive(ws)
            del snapshot["type"], snapshot["channel"]
            assert response.json() == snapshot


async def test_rest_liquidation_buckets_follow_start_and_end_time(
    feeds: Feeds, client: httpx.AsyncClient
) -> None:
    for n in range(1, 10):  # 70 s apart: 1m buckets at 1, 2, 3, 4, 5, 7, 8, 9, 10 minutes
        feeds.liquidations.add(liquidation(n))
    start, end = T0 + 3 * 60_000, T0 + 8 * 60_000
    response = await client.get(
        "/liquidations/BTCUSDT",
        params={"timeframe": "1m", "start_time": start // 1000, "end_time": end},
    )
    opens = [b["timestamp_ms"] for b in response.json()["volume"]]
    assert opens == [T0 + m * 60_000 for m in (3, 4, 5, 7, 8)]


# -- end to end: the node's own feeds against the simulator's truth -----------------------
# These need the node to construct its feeds (node.py); until it does they skip, saying so.
LIVE_SIM = SimConfig(
    seed=5,
    symbols=("BTCUSDT", "ETHUSDT"),
    futures_symbols=("BTCUSDT",),
    start_ms=T0,
    speed=20.0,
)


@dataclass
class Live:
    node: Node
    sim: SimExchange


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live() -> AsyncIterator[Live]:
    async with SimExchange(LIVE_SIM) as sim:
        # The simulator trades ~300 times a (real) second at this speed: the largest tape
        # (10k) holds half a minute, so a resume test is not at the mercy of a loaded
        # machine's delays (the default 1000 hold about 3 s).
        settings = hub_settings(sim, symbols=("BTCUSDT",), buffer_size=50, trade_history=10_000)
        app = create_app(settings, simulated=True)
        async with serve_app(app) as http:
            await wait_ready(http)
            yield Live(Node(app, http), sim)


@pytest_asyncio.fixture(loop_scope="module")
async def wired(live: Live) -> Live:
    state = live.node.state
    if state.books is None or state.trades is None or state.liquidations is None:
        pytest.skip("the node does not construct its order book/trade/liquidation feeds yet")
    return live


def truth_view(sim: SimExchange, body: Json) -> tuple[list[tuple[float, ...]], ...]:
    """The simulator's book at the body's update id, aggregated with the body's params."""
    state = sim.book_at("BTCUSDT", body["update_id"])
    spec = sim.truth.tape.spec("BTCUSDT")

    def levels(side: tuple[tuple[int, int], ...]) -> tuple[tuple[Decimal, Decimal], ...]:
        return tuple(
            (
                Decimal(p).scaleb(-spec.price_decimals - PRICE_DIGITS),
                Decimal(q).scaleb(-spec.qty_decimals),
            )
            for p, q in side
        )

    book = OrderBook(SyncRule.SPOT)
    book.on_snapshot(BookSnapshot(state.update_id, levels(state.bids), levels(state.asks)))
    rounding = Decimal(repr(body["rounding"]))
    view = aggregate(book, body["limit"], rounding, body["amount_precision"])
    return tuple(
        [(float(v.price), float(v.amount), float(v.cumulative)) for v in side]
        for side in (view.bids, view.asks)
    )


def shown_view(body: Json) -> tuple[list[tuple[float, ...]], ...]:
    return tuple(
        [(v["price"], v["amount"], v["cumulative"]) for v in body[side]]
        for side in ("bids", "asks")
    )


async def test_e2e_book_snapshot_and_updates_equal_the_exchange_book(wired: Live) -> None:
    async with connect(f"{wired.node.ws}/ws") as ws:
        await ws.send(sub("orderbook", limit=10))
        snapshot = await receive(ws, timeout=20)
        updates = [await receive(ws, timeout=10) for _ in range(3)]
    assert snapshot["type"] == "snapshot"
    assert [u["type"] for u in updates] == ["orderbook"] * 3
    assert {(u["limit"], u["rounding"]) for u in updates} == {
        (snapshot["limit"], snapshot["rounding"])
    }
    versions = [m["version"] for m in (snapshot, *updates)]
    assert versions == sorted(set(versions))
    for body in (snapshot, *updates):
        assert_consistent_book(body, 10)
        assert shown_view(body) == truth_view(wired.sim, body)


async def test_e2e_trades_are_continuous_by_id_and_equal_the_exchange_tape(wired: Live) -> None:
    async with connect(f"{wired.node.ws}/ws") as ws:
        await ws.send(sub("trades", limit=50))
        snapshot = await receive(ws, timeout=20)
        updates = await gather_for(ws, 2.0)
    got = snapshot["trades"] + [t for u in updates for t in u["trades"]]
    assert len(snapshot["trades"]) == 50
    assert updates, "no live trades within 2 s"
    assert {u["type"] for u in updates} == {"trades"}
    ids = [t["id"] for t in got]
    assert len(set(ids)) == len(ids), "a trade was sent twice"
    assert sorted(ids) == list(range(min(ids), max(ids) + 1)), "a trade is missing"
    async with httpx.AsyncClient(base_url=wired.sim.rest_base, timeout=10) as exchange:
        response = await exchange.get(
            "/api/v3/aggTrades", params={"symbol": "BTCUSDT", "fromId": min(ids), "limit": 1000}
        )
    truth = {row["a"]: row for row in response.json()}
    for trade_row in got:
        want = truth[trade_row["id"]]
        shown = (Decimal(trade_row["price_formatted"]), Decimal(trade_row["amount_formatted"]))
        assert shown == (Decimal(want["p"]), Decimal(want["q"]))
        assert trade_row["timestamp"] == want["T"]
        assert trade_row["side"] == ("sell" if want["m"] else "buy")


async def test_e2e_trades_resume_with_since_without_a_gap(wired: Live) -> None:
    async with connect(f"{wired.node.ws}/ws") as ws:
        await ws.send(sub("trades", limit=20))
        held = [t["id"] for t in (await receive(ws, timeout=20))["trades"]]
    since = held[-1] - 5
    async with connect(f"{wired.node.ws}/ws") as ws:
        await ws.send(sub("trades", since=since))
        resumed = await receive(ws, timeout=10)
    ids = [t["id"] for t in resumed["trades"]]
    assert resumed["reset"] is False
    assert ids == list(range(since + 1, since + 1 + len(ids)))
    assert len(ids) >= 5


async def test_e2e_liquidations_equal_the_exchange_forced_orders(wired: Live) -> None:
    async with connect(f"{wired.node.ws}/ws") as ws:
        await ws.send(sub("liquidations", timeframe="1m"))
        snapshot = await receive(ws, timeout=20)
        updates = [await receive(ws, timeout=10) for _ in range(4)]
        async with connect(f"{wired.node.ws}/ws") as later:  # while the feed is held
            await later.send(sub("liquidations", limit=3))
            resumed = await receive(later, timeout=10)
    assert (snapshot["sample"], snapshot["timeframe"]) == (True, "1m")
    live_rows = [u["liquidation"] for u in updates]
    first, last = live_rows[0]["timestamp"], live_rows[-1]["timestamp"]
    spec = wired.sim.truth.tape.spec("BTCUSDT")

    def as_row(found: Any) -> tuple[Any, ...]:
        quantity = Decimal(found.qty).scaleb(-spec.qty_decimals)
        avg_price = Decimal(found.avg_price).scaleb(-spec.price_decimals)
        return (found.time, found.side, float(quantity), float(avg_price))

    def shown(row: Json) -> tuple[Any, ...]:
        return (row["timestamp"], row["side"], row["quantity"], row["avgPrice"])

    truth = [as_row(f) for f in wired.sim.truth.liquidations("BTCUSDT", first, last)]
    got = [shown(row) for row in live_rows]
    assert got == truth, f"live {got} != exchange {truth}"  # every one, in order, once
    # A later subscriber's snapshot: the newest ones, newest first, none missing between.
    rows = [shown(row) for row in resumed["liquidations"]]
    assert len(rows) == 3
    assert rows[0][0] >= last  # it holds what the first client already saw live
    held = wired.sim.truth.liquidations("BTCUSDT", rows[-1][0], rows[0][0])
    assert rows == [as_row(f) for f in held][::-1]
    for update in updates:
        bucket = update["bucket"]
        assert bucket["timestamp_ms"] <= update["liquidation"]["timestamp"]
        assert update["liquidation"]["timestamp"] < bucket["timestamp_ms"] + 60_000


async def test_e2e_a_symbol_without_a_perpetual_has_no_liquidations(wired: Live) -> None:
    async with connect(f"{wired.node.ws}/ws") as ws:
        await ws.send(sub("liquidations", "ETHUSDT"))
        error = await receive(ws, timeout=10)
    assert (error["type"], error["code"]) == ("error", "no_liquidations")
