"""BookKeeper with a scripted stream and snapshot source: sync, per-book resync, views,
push coalescing, listener isolation, on-demand life cycle.

The end-to-end check against the simulator's true book is in
``tests/e2e/test_books_trades.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from typing import Any

import pytest

from marketcast.domain.orderbook import BookDiff, BookSnapshot, SyncRule
from marketcast.errors import CapacityExceeded, ExchangeUnavailable, NotReady, UnknownSymbol
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.messages import StreamsReconnected
from marketcast.hub.books.keeper import BookKeeper
from marketcast.hub.symbol_feeds.running import FeedLimits
from support.fakes import Directory, FakeClock

pytestmark = pytest.mark.timeout(30)

D = Decimal
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
FAST = Backoff(base=0.001, cap=0.01)


class Stream:
    """The raw stream: the test pushes events, the keeper subscribes names."""

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

    def diff(self, symbol: str, first: int, final: int, bid: tuple[str, str]) -> None:
        level = (D(bid[0]), D(bid[1]))
        diff = BookDiff(first, final, None, (level,), (), event_time=final)
        self.queue.put_nowait(DepthEvent(symbol, diff))


class Depth:
    """Snapshots at a given update id; ``failures`` makes the next calls fail."""

    def __init__(self) -> None:
        self.at: dict[str, int] = dict.fromkeys(SYMBOLS, 10)
        self.calls: Counter[str] = Counter()
        self.failures = 0

    async def depth_snapshot(self, symbol: str, limit: int = 1000) -> BookSnapshot:
        self.calls[symbol] += 1
        if self.failures:
            self.failures -= 1
            raise ExchangeUnavailable("HTTP 503 from /api/v3/depth")
        bids = ((D("100"), D("1")), (D("99.5"), D("2")))
        asks = ((D("101"), D("1")),)
        return BookSnapshot(self.at[symbol], bids, asks)


def keeper(
    stream: Stream, depth: Depth, *, clock: Callable[[], float] | None = None, **kw: object
) -> BookKeeper:
    options: dict[str, object] = {
        "always": ("BTCUSDT", "ETHUSDT"),
        "limits": FeedLimits(max_on_demand=1, idle_s=60.0, ready_timeout_s=5.0),
        "first_diff_wait_s": 0.0,
    } | kw
    return BookKeeper(
        rest=depth,
        stream=stream,
        rule=SyncRule.SPOT,
        symbols=Directory(SYMBOLS),
        clock=clock or FakeClock(),
        backoff=FAST,
        **options,  # type: ignore[arg-type]
    )


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_book_syncs_from_snapshot_and_follows_diffs() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth) as books:
        assert stream.names == {"btcusdt@depth@100ms", "ethusdt@depth@100ms"}
        release = await books.acquire("BTCUSDT")
        stream.diff("BTCUSDT", 11, 12, ("100", "5"))
        await until(lambda: books.view("BTCUSDT", 5, D("1")).last_update == 12)
        view = books.view("BTCUSDT", 5, D("1"))
        assert [(level.price, level.amount) for level in view.bids] == [
            (D(100), D(5)),
            (D(99), D(2)),
        ]
        assert view.bids[0].amount_formatted == "5.000"
        release()
        status = books.status()["books"]["BTCUSDT"]
        assert status["state"] == "synced"
        assert status["last_update_id"] == 12
        assert status["resyncs"] == 0


async def test_a_sequence_gap_resyncs_that_book_only() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth) as books:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            (await books.acquire(symbol))()
        assert depth.calls == Counter({"BTCUSDT": 1, "ETHUSDT": 1})
        stream.diff("BTCUSDT", 11, 11, ("100", "6"))
        depth.at["BTCUSDT"] = 20
        stream.diff("BTCUSDT", 15, 16, ("100", "7"))  # 12..14 never arrived
        await until(lambda: books.status()["books"]["BTCUSDT"]["resyncs"] == 1)
        stream.diff("BTCUSDT", 17, 21, ("100", "8"))
        await until(lambda: books.status()["books"]["BTCUSDT"]["last_update_id"] == 21)
        assert books.view("BTCUSDT", 5, D("1")).bids[0].amount == D(8)
        stream.diff("ETHUSDT", 11, 11, ("100", "4"))
        await until(lambda: books.status()["books"]["ETHUSDT"]["last_update_id"] == 11)
        status = books.status()["books"]
        assert status["ETHUSDT"]["resyncs"] == 0
        assert depth.calls["ETHUSDT"] == 1
        assert "sequence_gap" in status["BTCUSDT"]["last_resync_reason"]


async def test_view_is_not_ready_while_the_book_resyncs() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth) as books:
        (await books.acquire("BTCUSDT"))()
        depth.failures = 10**6  # the resync cannot finish
        stream.diff("BTCUSDT", 15, 16, ("100", "7"))
        await until(lambda: books.status()["books"]["BTCUSDT"]["state"] != "synced")
        with pytest.raises(NotReady, match="syncing"):
            books.view("BTCUSDT", 5, D("1"))
        depth.failures = 0
        depth.at["BTCUSDT"] = 16
        await until(lambda: books.status()["books"]["BTCUSDT"]["state"] == "synced")
        assert books.view("BTCUSDT", 5, D("1")).last_update == 16


async def test_snapshot_failures_are_retried_with_backoff() -> None:
    stream, depth = Stream(), Depth()
    depth.failures = 3
    async with keeper(stream, depth, always=()) as books:
        (await books.acquire("SOLUSDT"))()
        assert depth.calls["SOLUSDT"] == 4


async def test_a_reconnect_resyncs_the_books_on_the_named_streams_only() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth) as books:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            (await books.acquire(symbol))()
        depth.at["ETHUSDT"] = 30
        stream.queue.put_nowait(StreamsReconnected(frozenset({"ethusdt@depth@100ms"})))
        await until(lambda: books.status()["books"]["ETHUSDT"]["last_update_id"] == 30)
        status = books.status()["books"]
        assert status["ETHUSDT"]["resyncs"] == 1
        assert status["ETHUSDT"]["last_resync_reason"] == "stream reconnected"
        assert status["BTCUSDT"]["resyncs"] == 0
        assert depth.calls["BTCUSDT"] == 1


async def test_views_are_computed_once_per_version_for_many_watchers() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth) as books:
        (await books.acquire("BTCUSDT"))()
        seen: list[int] = []

        def watcher(version: int) -> None:
            view = books.view("BTCUSDT", 10, D("0.5"))
            books.view("BTCUSDT", 10, D("1"))
            seen.append(view.version)

        for _ in range(50):
            books.watch("BTCUSDT", watcher)
        stream.diff("BTCUSDT", 11, 11, ("100", "9"))
        await until(lambda: len(seen) >= 50)
        assert len(set(seen)) == 1
        assert books.status()["books"]["BTCUSDT"]["views_computed"] == 2


async def test_pushes_are_capped_and_the_latest_version_wins() -> None:
    stream, depth = Stream(), Depth()
    push_hz = 4.0
    async with keeper(stream, depth, push_hz=push_hz) as books:
        (await books.acquire("BTCUSDT"))()
        pushed: list[int] = []
        books.watch("BTCUSDT", pushed.append)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for update in range(11, 41):  # a change every ~10 ms, far above the cap
            stream.diff("BTCUSDT", update, update, ("100", str(update)))
            await asyncio.sleep(0.01)
        await until(lambda: books.status()["books"]["BTCUSDT"]["last_update_id"] == 40)
        latest = books.view("BTCUSDT", 5, D("1")).version
        await until(lambda: bool(pushed) and pushed[-1] == latest)
        elapsed = loop.time() - started
        # A rate bound, not a speed one: one push per interval, plus the first.
        assert len(pushed) <= elapsed * push_hz + 2
        assert pushed == sorted(set(pushed))


async def test_a_failing_listener_does_not_hurt_the_others() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth) as books:
        (await books.acquire("BTCUSDT"))()
        got: list[int] = []

        def broken(version: int) -> None:
            raise RuntimeError("bug in one connection")

        books.watch("BTCUSDT", broken)
        unwatch = books.watch("BTCUSDT", got.append)
        stream.diff("BTCUSDT", 11, 11, ("100", "9"))
        await until(lambda: len(got) == 1)
        unwatch()
        assert books.status()["books"]["BTCUSDT"]["subscribers"] == 1


async def test_on_demand_books_start_are_capped_and_stop_when_idle() -> None:
    stream, depth, clock = Stream(), Depth(), FakeClock()
    async with keeper(stream, depth, clock=clock) as books:
        with pytest.raises(UnknownSymbol):
            await books.acquire("NOPEUSDT")
        release = await books.acquire("SOLUSDT")  # fills the one on-demand slot
        assert "solusdt@depth@100ms" in stream.names
        with pytest.raises(CapacityExceeded):
            await books.acquire("XRPUSDT")
        release()
        clock.now += 59
        assert await books.sweep_idle() == []
        clock.now += 1
        assert await books.sweep_idle() == ["SOLUSDT"]
        assert "solusdt@depth@100ms" not in stream.names
        with pytest.raises(NotReady, match="acquire it first"):
            books.view("SOLUSDT", 5, D("1"))
        assert "SOLUSDT" not in books.status()["books"]
        (await books.acquire("XRPUSDT"))()
        held = set(stream.names)
    # Closing sends no UNSUBSCRIBE per book: the stream itself closes right after.
    assert stream.names == held
    assert books.status()["books"] == {}


def book_status(books: BookKeeper, symbol: str = "BTCUSDT") -> dict[str, Any]:
    status: dict[str, Any] = books.status()["books"][symbol]
    return status


async def test_a_book_that_gets_no_diff_is_refreshed_from_rest_after_the_silence_bound() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth, stale_after_s=0.2) as books:
        (await books.acquire("BTCUSDT"))()  # adopted without any diff: nothing vouches for it
        depth.at["BTCUSDT"] = 20  # the exchange moved on; the stream says nothing

        def refreshed() -> bool:
            status = book_status(books)
            return bool(status["state"] == "synced" and status["last_update_id"] == 20)

        await until(refreshed)
        assert books.view("BTCUSDT", 5, D("1")).last_update == 20
        status = book_status(books)
        assert status["stale_refreshes"] >= 1
        assert status["resyncs"] == 0  # no sequence break: a refresh, not a resync


async def test_a_silent_book_is_reported_stale_and_not_served_until_refreshed() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth, stale_after_s=0.2) as books:
        (await books.acquire("BTCUSDT"))()
        stream.diff("BTCUSDT", 11, 12, ("100", "5"))
        await until(lambda: book_status(books)["last_update_id"] == 12)
        depth.failures = 10**6  # REST is down too: the book cannot be refreshed
        await until(lambda: book_status(books)["state"] == "stale")
        with pytest.raises(NotReady):
            books.view("BTCUSDT", 5, D("1"))
        pushed: list[int] = []
        books.watch("BTCUSDT", pushed.append)
        depth.at["BTCUSDT"] = 30
        depth.failures = 0
        await until(lambda: book_status(books)["state"] == "synced")
        view = books.view("BTCUSDT", 5, D("1"))
        assert view.last_update == 30
        await until(lambda: bool(pushed))  # watchers hear of the refreshed book


async def test_a_book_whose_diffs_keep_coming_is_not_refreshed() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth, stale_after_s=1.0) as books:
        (await books.acquire("BTCUSDT"))()
        for update in range(11, 41):  # 1.5 s of diffs, each well within the bound
            stream.diff("BTCUSDT", update, update, ("100", str(update)))
            await asyncio.sleep(0.05)
        await until(lambda: book_status(books)["last_update_id"] == 40)
        assert depth.calls["BTCUSDT"] == 1
        assert book_status(books)["stale_refreshes"] == 0


async def test_a_book_whose_resync_cannot_finish_is_refused_once_silent_too_long() -> None:
    stream, depth = Stream(), Depth()
    async with keeper(stream, depth, stale_after_s=0.2) as books:
        (await books.acquire("BTCUSDT"))()
        stream.diff("BTCUSDT", 11, 12, ("100", "5"))
        await until(lambda: book_status(books)["last_update_id"] == 12)
        depth.failures = 10**6
        # A reconnect asks for a snapshot but leaves the old book up meanwhile; with REST
        # down and no diff, that book must not be served past the bound.
        stream.queue.put_nowait(StreamsReconnected(frozenset({"btcusdt@depth@100ms"})))
        await until(lambda: book_status(books)["resyncs"] == 1)
        await until(lambda: book_status(books)["state"] == "stale")
        with pytest.raises(NotReady, match="not heard from the exchange"):
            books.view("BTCUSDT", 5, D("1"))
