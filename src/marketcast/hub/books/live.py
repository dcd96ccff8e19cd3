"""One symbol's live order book: the I/O around the pure :class:`OrderBook` state machine.

A :class:`LiveBook` is fed diffs by its owner (:class:`~marketcast.hub.books.keeper.BookKeeper`,
which reads the shared stream) and runs two tasks of its own:

- :meth:`LiveBook.run_sync` fetches a REST snapshot whenever the book needs one: at start
  (after the first buffered diff, as Binance's procedure asks), after a sequence break,
  after the stream reconnected, and after a silence (below). REST failures are retried
  with jittered backoff; a snapshot older than the buffered diffs is simply fetched again.
- :meth:`LiveBook.run_pusher` tells listeners the new version at most once per push
  interval, the latest version winning; a resynced book is pushed at once.

Only this book is touched by its resyncs: other symbols never notice.

Silence. Nothing on the stream says it has stopped delivering (a stalled socket, an
outage the client cannot reconnect through), and a snapshot adopted with no diff on top
of it is vouched for by nothing but REST. So a book is trusted for ``stale_after_s`` after
its last diff or snapshot, no longer: past that it is *stale*. Its views are refused
(``NotReady``, as while syncing; ``status()`` says ``"stale"``) and a fresh snapshot is
fetched. Binance allows a new snapshot on top of a synced book at any time: a newer one
replaces the levels and the next diff must bridge it (the first-diff rule), one not newer
confirms the book. A quiet but healthy book is thus re-confirmed from REST once per
bound; a dead stream's book follows REST at that pace, or is refused while REST is down
too. A client is never served a book older than the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from marketcast.domain.book_view import BookView, ViewCache
from marketcast.domain.depth_journal import Depth, DepthChange, DepthJournal, StartOver
from marketcast.domain.orderbook import (
    Applied,
    BookDiff,
    BookSnapshot,
    NeedSnapshot,
    OrderBook,
    Synced,
    SyncRule,
    SyncState,
)
from marketcast.errors import ExchangeError, NotReady, RateLimited, is_outage
from marketcast.exchanges.binance.limits import Backoff
from marketcast.hub.symbol_feeds.listeners import Listeners
from marketcast.metrics import BOOK_RESYNCS, ExchangeLag

log = logging.getLogger(__name__)

VersionListener = Callable[[int], None]

# How long a book is trusted without hearing from the exchange. Busy 100 ms streams send
# several diffs a second; a quiet book costs one snapshot (spot weight 50) per bound.
STALE_AFTER_S = 10.0


class DepthSource(Protocol):
    """Where snapshots come from (``BinanceRest`` fits)."""

    async def depth_snapshot(self, symbol: str, limit: int = 1000) -> BookSnapshot: ...


class LiveBook:
    """One symbol's book, its shared views, its sync state and its listeners.

    Args:
        symbol: the exchange id (``BTCUSDT``).
        stream: the diff stream's name (``btcusdt@depth@100ms``).
        rule: spot or futures diff chaining.
        backoff: the retry policy for failed snapshot fetches (a fresh copy is used).
        stale_after_s: how long the book is served without a diff or a new snapshot.
    """

    def __init__(
        self,
        symbol: str,
        stream: str,
        rule: SyncRule,
        backoff: Backoff,
        stale_after_s: float = STALE_AFTER_S,
        *,
        market: str = "spot",
    ) -> None:
        if not stale_after_s > 0:
            raise ValueError(f"stale_after_s must be positive, not {stale_after_s}")
        self.symbol = symbol
        self.stream = stream
        self.book = OrderBook(rule)
        self.journal = DepthJournal()  # the diffs behind the exact book's stream
        self._depth: Depth | None = None  # the whole book, shared until the next version
        self.views: ViewCache | None = None  # once the amount precision is known
        self.synced = asyncio.Event()
        self.resyncs = 0
        self.pushes = 0
        self.last_resync_reason: str | None = None
        self.stale_refreshes = 0
        self.stale_after_s = stale_after_s
        self.market = market
        self._lag = ExchangeLag(market, "books")
        self._event_ms: int | None = None  # the exchange time of the newest diff applied
        self.tasks: tuple[asyncio.Task[Any], ...] = ()  # owned by the keeper's registry
        self._backoff = backoff.fresh()
        self._listeners: Listeners[int] = Listeners(f"order book {symbol}")
        self._first_diff = asyncio.Event()
        self._resync_due = asyncio.Event()
        self._resync_due.set()  # the first sync
        self._resyncing = True
        self._changed = asyncio.Event()
        self._heard_at = -math.inf  # loop time of the last diff or snapshot
        self._diff_since_sync = False
        self._stale = False  # silent too long: a refresh is under way

    @property
    def ready(self) -> bool:
        """Synced with the exchange and its display precision known (:meth:`view` also
        refuses a stale book)."""
        return self.synced.is_set() and self.views is not None

    @property
    def stale(self) -> bool:
        """Silent for longer than the bound (checked on every read, not only by the
        watchdog, so a book whose resync is stuck is not served either)."""
        return self._stale or (self.synced.is_set() and self.silent_s() >= self.stale_after_s)

    def silent_s(self) -> float:
        """Seconds since the last diff or snapshot (infinite before the first)."""
        return asyncio.get_running_loop().time() - self._heard_at

    # -- input from the stream -------------------------------------------------------
    def on_diff(self, diff: BookDiff) -> None:
        before = self.book.last_update
        result = self.book.on_diff(diff)
        self._event_ms = diff.event_time
        self._heard_at = asyncio.get_running_loop().time()
        self._diff_since_sync = True
        self._first_diff.set()
        if isinstance(result, Applied):
            assert before is not None  # only a synced book applies diffs
            self.journal.record(before, diff)
            self._changed.set()
        elif isinstance(result, NeedSnapshot):
            self.journal.restart()
            self.synced.clear()
            self.request_resync(f"{result.fault.value}: {result.detail}")

    def request_resync(self, reason: str) -> None:
        """Fetch a fresh snapshot for this book; one resync absorbs the requests made
        while it runs (they have the same cure)."""
        if not self._resyncing:
            self._resyncing = True
            self.resyncs += 1
            BOOK_RESYNCS.labels(self.market).inc()
            self.last_resync_reason = reason
            log.warning("order book %s resync #%d: %s", self.symbol, self.resyncs, reason)
        self._resync_due.set()

    # -- reading ---------------------------------------------------------------------
    def view(self, limit: int, rounding: Decimal) -> BookView:
        return self._servable().view(limit, rounding)

    def depth(self, limit: int | None = None) -> Depth:
        """The exact book, ``limit`` levels per side (``None``: all held)."""
        self._servable()
        book = self.book
        whole = self._depth
        if whole is None or (whole.epoch, whole.last_update) != (
            self.journal.epoch,
            book.last_update,
        ):
            assert book.last_update is not None  # servable: synced
            bids, asks = tuple(book.bids), tuple(book.asks)
            whole = self._depth = Depth(self.journal.epoch, book.last_update, bids, asks)
        if limit is None or limit >= max(len(whole.bids), len(whole.asks)):
            return whole
        return Depth(whole.epoch, whole.last_update, whole.bids[:limit], whole.asks[:limit])

    def depth_since(self, epoch: int, update_id: int) -> DepthChange | StartOver | None:
        """What a copy of the exact book at ``(epoch, update_id)`` lacks (see
        :meth:`DepthJournal.since`)."""
        self._servable()
        return self.journal.since(epoch, update_id)

    def _servable(self) -> ViewCache:
        if self.views is None or not self.synced.is_set():
            raise NotReady(f"order book of {self.symbol} is syncing with the exchange; retry")
        if self.stale:
            raise NotReady(
                f"order book of {self.symbol} has not heard from the exchange for "
                f"{self.silent_s():.0f}s; refreshing it, retry"
            )
        return self.views

    def watch(self, listener: VersionListener) -> Callable[[], None]:
        return self._listeners.watch(listener)

    def status(self) -> dict[str, Any]:
        state = self.book.state.value
        if self.book.state is SyncState.SYNCED and self.stale:
            state = "stale"
        return {
            "state": state,
            "last_update_id": self.book.last_update,
            "resyncs": self.resyncs,
            "last_resync_reason": self.last_resync_reason,
            "stale_refreshes": self.stale_refreshes,
            "silent_s": None if self._heard_at == -math.inf else round(self.silent_s(), 3),
            "subscribers": len(self._listeners),
            "pushes": self.pushes,
            "views_computed": 0 if self.views is None else self.views.computed,
        }

    # -- tasks -----------------------------------------------------------------------
    async def run_sync(self, rest: DepthSource, limit: int, first_diff_wait_s: float) -> None:
        """Resync whenever asked, forever (cancelled when the symbol stops)."""
        # Binance: buffer the stream first, then snapshot. A quiet book may send no diff
        # for a while; its snapshot is then taken anyway and checked by the next diff.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(first_diff_wait_s):
                await self._first_diff.wait()
        while True:
            await self._until_resync_due()
            self._resync_due.clear()
            await self._sync_once(rest, limit)

    async def _until_resync_due(self) -> None:
        """Wait for a resync request, or until the book has been silent too long."""
        loop = asyncio.get_running_loop()
        while not self._resync_due.is_set():
            deadline = self._heard_at + self.stale_after_s
            if loop.time() >= deadline:
                self._go_stale()
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._resync_due.wait()

    def _go_stale(self) -> None:
        self._stale = True
        self._resyncing = True  # a break found meanwhile has the same cure: a snapshot
        self.synced.clear()
        self.stale_refreshes += 1
        # A quiet book re-confirmed once per bound is routine; a stream that went silent
        # after delivering is worth a warning.
        level = logging.WARNING if self._diff_since_sync else logging.INFO
        log.log(
            level,
            "order book %s: nothing heard for %.1fs; refreshing from REST",
            self.symbol,
            self.silent_s(),
        )

    async def _sync_once(self, rest: DepthSource, limit: int) -> None:
        while True:
            snapshot = await self._fetch(rest, limit)
            version = self.book.version
            result = self.book.on_snapshot(snapshot)
            if self.book.version != version:  # new levels, not from the diff chain
                self.journal.restart()
            if not isinstance(result, NeedSnapshot):
                break
            # The snapshot is older than the diffs already buffered (REST lags the
            # stream): ask again a little later.
            log.info("order book %s: %s; fetching again", self.symbol, result.detail)
            await asyncio.sleep(self._backoff.next_delay())
        self._backoff.reset()
        self._resyncing = False
        self._stale = False
        self._heard_at = asyncio.get_running_loop().time()
        self._diff_since_sync = False
        if isinstance(result, Synced):
            log.info(
                "order book %s synced at %d (replayed %d, dropped %d buffered diffs)",
                self.symbol,
                result.last_update,
                result.replayed,
                result.dropped,
            )
        self.synced.set()
        if self.ready:
            self._push()  # listeners see a resynced book at once, not a push later

    async def _fetch(self, rest: DepthSource, limit: int) -> BookSnapshot:
        while True:
            try:
                return await rest.depth_snapshot(self.symbol, limit)
            except ExchangeError as error:
                delay = self._backoff.next_delay()
                if isinstance(error, RateLimited):
                    delay = max(delay, error.retry_after)
                level = logging.DEBUG if is_outage(error) else logging.WARNING
                message = "order book %s: snapshot failed (%s); retrying in %.1fs"
                log.log(level, message, self.symbol, error, delay)
                await asyncio.sleep(delay)

    async def run_pusher(self, interval_s: float) -> None:
        """Push the latest version after changes, at most once per ``interval_s``."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self.ready:
                self._push()
                await asyncio.sleep(interval_s)

    def _push(self) -> None:
        self.pushes += 1
        if self._listeners:
            self._lag.observe(self._event_ms)
        self._listeners.tell(self.book.version)
