"""TradeTapes with a scripted stream and trade history: load then live, de-duplication,
gap fills, ids the exchange never had, reconnect catch-up, retries on a timer, the bounded
pre-history buffer, listener isolation, on-demand life cycle.

The end-to-end check against the simulator's trade tape is in
``tests/e2e/test_books_trades.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from decimal import Decimal

import pytest

from marketcast.domain.trades import Trade
from marketcast.errors import CapacityExceeded, ExchangeUnavailable, NotReady, UnknownSymbol
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.messages import StreamsReconnected
from marketcast.exchanges.binance.trades import TradeEvent
from marketcast.hub.symbol_feeds.running import FeedLimits
from marketcast.hub.trades.tapes import TradeTapes
from support.fakes import Directory, FakeClock

pytestmark = pytest.mark.timeout(30)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
FAST = Backoff(base=0.001, cap=0.01)


def trade(trade_id: int) -> Trade:
    return Trade(trade_id, Decimal(100 + trade_id % 7), Decimal("0.5"), trade_id % 2 == 0, trade_id)


class History:
    """The exchange's trades ``1..newest`` per symbol except the ids in ``holes`` (which it
    never had); ``failures`` fails the next calls."""

    def __init__(self, newest: int = 1500) -> None:
        self.newest = dict.fromkeys(SYMBOLS, newest)
        self.holes: set[int] = set()
        self.calls: list[tuple[str, int | None, int]] = []
        self.failures = 0
        self.gate: asyncio.Event | None = None  # holds every call while set and not open

    async def agg_trades(
        self, symbol: str, *, from_id: int | None = None, limit: int = 1000
    ) -> list[Trade]:
        self.calls.append((symbol, from_id, limit))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ExchangeUnavailable("HTTP 502 from /api/v3/aggTrades")
        # Like Binance: ascending existing ids, the newest ``limit`` or ``limit`` from ``from_id``.
        existing = [i for i in range(1, self.newest[symbol] + 1) if i not in self.holes]
        if from_id is None:
            return [trade(i) for i in existing[-limit:]]
        return [trade(i) for i in existing if i >= from_id][:limit]


class Stream:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.names: set[str] = set()

    async def add_streams(self, names: Iterable[str]) -> None:
        self.names |= set(names)

    async def remove_streams(self, names: Iterable[str]) -> None:
        self.names -= set(names)

    async def events(self) -> AsyncIterator[object]:
        while True:
            yield await self.queue.get()

    def push(self, symbol: str, *ids: int, aggregate: bool = True) -> None:
        for trade_id in ids:
            self.queue.put_nowait(TradeEvent(symbol, trade(trade_id), aggregate, trade_id))


def tapes(stream: Stream, history: History, **kw: object) -> TradeTapes:
    options: dict[str, object] = {
        "always": ("BTCUSDT",),
        "capacity": 1000,
        "limits": FeedLimits(max_on_demand=1, idle_s=60.0, ready_timeout_s=5.0),
        "clock": FakeClock(),
    } | kw
    return TradeTapes(
        rest=history,
        stream=stream,
        symbols=Directory(SYMBOLS),
        backoff=FAST,
        **options,  # type: ignore[arg-type]
    )


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def ids(trades: Sequence[Trade]) -> list[int]:
    return [t.id for t in trades]


async def test_history_then_live_without_duplicates() -> None:
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        assert stream.names == {"btcusdt@aggTrade"}
        (await feed.acquire("BTCUSDT"))()
        assert history.calls[0] == ("BTCUSDT", None, 1000)
        assert ids(feed.recent("BTCUSDT", 3)) == [1500, 1499, 1498]
        delivered: list[list[int]] = []
        feed.watch("BTCUSDT", lambda new: delivered.append(ids(new)))
        stream.push("BTCUSDT", 1499, 1500, 1501, 1501, 1502)
        stream.push("BTCUSDT", 7, aggregate=False)  # a plain trade id: another sequence
        await until(lambda: feed.recent("BTCUSDT", 1)[0].id == 1502)
        await asyncio.sleep(0.02)
        assert delivered == [[1501], [1502]]
        assert ids(feed.recent("BTCUSDT", 1000)) == list(range(1502, 502, -1))


async def test_live_trades_before_the_history_loaded_are_merged() -> None:
    stream, history = Stream(), History()
    history.gate = asyncio.Event()  # the history answers late; live trades meanwhile are kept
    async with tapes(stream, history, always=()) as feed:
        pending = asyncio.create_task(feed.acquire("ETHUSDT"))
        await until(lambda: bool(history.calls))  # subscribed, and asking for history
        stream.push("ETHUSDT", 1500, 1501)
        await until(stream.queue.empty)
        history.gate.set()  # history up to 1500: 1501 is known from the stream only
        (await pending)()
        assert ids(feed.recent("ETHUSDT", 3)) == [1501, 1500, 1499]


async def test_an_id_gap_is_filled_from_rest_and_delivered() -> None:
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        (await feed.acquire("BTCUSDT"))()
        delivered: list[list[int]] = []
        feed.watch("BTCUSDT", lambda new: delivered.append(ids(new)))
        history.newest["BTCUSDT"] = 1510
        stream.push("BTCUSDT", 1501, 1505, 1510)  # 1502..1504 and 1506..1509 missing
        await until(lambda: feed.status()["tapes"]["BTCUSDT"]["missing_ids"] == 0)
        await until(lambda: sum(len(batch) for batch in delivered) == 10)
        assert sorted(i for batch in delivered for i in batch) == list(range(1501, 1511))
        assert all(batch == sorted(batch) for batch in delivered)
        assert ids(feed.recent("BTCUSDT", 10)) == list(range(1510, 1500, -1))
        assert ("BTCUSDT", 1502, 3) in history.calls


async def test_a_reconnect_catches_up_page_by_page() -> None:
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        (await feed.acquire("BTCUSDT"))()
        history.newest["BTCUSDT"] = 4000  # 2500 trades happened while disconnected
        stream.queue.put_nowait(StreamsReconnected(frozenset({"btcusdt@aggTrade"})))
        await until(lambda: feed.status()["tapes"]["BTCUSDT"]["newest_id"] == 4000)
        pages = [call for call in history.calls if call[1] is not None]
        assert pages == [("BTCUSDT", 1501, 1000), ("BTCUSDT", 2501, 1000), ("BTCUSDT", 3501, 1000)]
        assert ids(feed.recent("BTCUSDT", 1000)) == list(range(4000, 3000, -1))


async def test_a_gap_left_after_failed_fills_is_retried_on_a_timer() -> None:
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        (await feed.acquire("BTCUSDT"))()
        history.failures = 10**6
        history.newest["BTCUSDT"] = 1504
        calls = len(history.calls)
        stream.push("BTCUSDT", 1503, 1504)
        await until(lambda: feed.status()["tapes"]["BTCUSDT"]["newest_id"] == 1504)
        await until(lambda: len(history.calls) > calls + 5)  # gave up once, tried again
        # Never across the hole: 1503 and 1504 wait for 1501 and 1502.
        assert ids(feed.recent("BTCUSDT", 3)) == [1500, 1499, 1498]
        assert feed.status()["tapes"]["BTCUSDT"]["missing_ids"] == 2
        # REST recovers; no new trade arrives, yet the timer fetches the gap.
        history.failures = 0
        await until(lambda: feed.status()["tapes"]["BTCUSDT"]["missing_ids"] == 0)
        assert ids(feed.recent("BTCUSDT", 6)) == list(range(1504, 1498, -1))


async def test_ids_the_exchange_never_had_are_skipped_and_later_gaps_still_fill() -> None:
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        (await feed.acquire("BTCUSDT"))()
        delivered: list[int] = []
        feed.watch("BTCUSDT", lambda new: delivered.extend(ids(new)))
        history.holes = set(range(1505, 1510))  # never traded: REST can never fill them
        history.newest["BTCUSDT"] = 1520
        # Live: 1501..1504, 1510, then 1511..1519 lost on the way, then 1520.
        stream.push("BTCUSDT", 1501, 1502, 1503, 1504, 1510, 1520)
        exchange = [i for i in range(1501, 1521) if i not in history.holes]
        await until(lambda: sorted(delivered) == exchange)
        status = feed.status()["tapes"]["BTCUSDT"]
        assert (status["missing_ids"], status["unfillable_ids"]) == (0, 5)
        assert len(delivered) == len(set(delivered))  # each trade once
        # Asked once for the never-traded ids, never again.
        assert [call for call in history.calls if call[1] in history.holes] == [
            ("BTCUSDT", 1505, 5)
        ]
        assert ("BTCUSDT", 1515, 5) in history.calls  # the real gap was still fetched
        # The never-traded ids do not cut the tape short.
        newest_50 = [i for i in range(1520, 1400, -1) if i not in history.holes][:50]
        assert ids(feed.recent("BTCUSDT", 50)) == newest_50


async def test_a_gap_rest_does_not_know_yet_is_filled_once_rest_catches_up() -> None:
    # Binance's REST can trail its stream by a moment: an empty answer for a gap the
    # stream just showed must not mark real trades as never traded.
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        (await feed.acquire("BTCUSDT"))()
        delivered: list[int] = []
        feed.watch("BTCUSDT", lambda new: delivered.extend(ids(new)))
        calls = len(history.calls)
        stream.push("BTCUSDT", 1505)  # 1501..1504 lost; REST still ends at 1500
        await until(lambda: len(history.calls) > calls + 1)  # asked, got nothing, asked again
        assert feed.status()["tapes"]["BTCUSDT"]["unfillable_ids"] == 0
        history.newest["BTCUSDT"] = 1505  # REST catches up; the retry timer fills the gap
        await until(lambda: sorted(delivered) == list(range(1501, 1506)))
        assert feed.status()["tapes"]["BTCUSDT"]["missing_ids"] == 0


async def test_live_trades_waiting_for_the_history_are_bounded_by_the_capacity() -> None:
    stream, history = Stream(), History(newest=10)
    history.gate = asyncio.Event()  # REST history is down while the stream runs
    async with tapes(stream, history, capacity=10) as feed:
        await until(lambda: bool(history.calls))
        stream.push("BTCUSDT", *range(11, 5011))
        await until(stream.queue.empty)
        await asyncio.sleep(0)  # let the dispatcher hand over the last trade
        assert feed.status()["tapes"]["BTCUSDT"]["buffered"] == 10
        history.gate.set()
        (await feed.acquire("BTCUSDT"))()
        assert ids(feed.recent("BTCUSDT", 20)) == list(range(5010, 5000, -1))
        assert feed.status()["tapes"]["BTCUSDT"]["buffered"] == 0


async def test_a_failing_listener_does_not_hurt_the_others() -> None:
    stream, history = Stream(), History()
    async with tapes(stream, history) as feed:
        (await feed.acquire("BTCUSDT"))()
        got: list[int] = []

        def broken(new: Sequence[Trade]) -> None:
            raise RuntimeError("bug in one connection")

        feed.watch("BTCUSDT", broken)
        feed.watch("BTCUSDT", lambda new: got.extend(ids(new)))
        stream.push("BTCUSDT", 1501, 1502)
        await until(lambda: got == [1501, 1502])


async def test_on_demand_tapes_start_are_capped_and_stop_when_idle() -> None:
    stream, history, clock = Stream(), History(), FakeClock()
    async with tapes(stream, history, clock=clock) as feed:
        with pytest.raises(UnknownSymbol):
            await feed.acquire("NOPEUSDT")
        release = await feed.acquire("ETHUSDT")
        with pytest.raises(CapacityExceeded):
            await feed.acquire("SOLUSDT")
        release()
        clock.now += 60
        assert await feed.sweep_idle() == ["ETHUSDT"]
        assert stream.names == {"btcusdt@aggTrade"}
        with pytest.raises(NotReady, match="acquire it first"):
            feed.recent("ETHUSDT", 5)
        (await feed.acquire("SOLUSDT"))()
