"""The hub's order books (:class:`BookFeed`): one local book per followed symbol.

:class:`BookKeeper` decides which books exist (configured symbols always, others on demand
through :class:`~marketcast.hub.symbol_feeds.SymbolFeeds`), subscribes each book's diff
stream, and runs the one task that reads the stream and hands every diff to its book.
Everything per book (snapshots, resyncs, pushes) lives in
:class:`~marketcast.hub.book_sync.LiveBook`.

The stream must be this keeper's own: :meth:`RawStreams.events` has a single consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from marketcast.domain.book_view import BookView, ViewCache
from marketcast.domain.market import SymbolMeta
from marketcast.domain.orderbook import SyncRule
from marketcast.errors import ExchangeError, NotReady, UnknownSymbol
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.messages import StreamsReconnected
from marketcast.hub.book_sync import STALE_AFTER_S, DepthSource, LiveBook
from marketcast.hub.feed_ports import Release, Unsubscribe
from marketcast.hub.symbol_feeds import (
    DEFAULT_LIMITS,
    FeedLimits,
    RawStreams,
    SymbolDirectory,
    SymbolFeeds,
)
from marketcast.resources import AsyncResource

log = logging.getLogger(__name__)

__all__ = ["BookKeeper", "DepthSource", "RawStreams", "SymbolDirectory"]

# How long a new book waits for its first diff before taking the snapshot anyway.
FIRST_DIFF_WAIT_S = 3.0


class BookKeeper(AsyncResource):
    """Local order books kept equal to the exchange's; start with ``async with``.

    Args:
        rest: snapshots (``BinanceRest.depth_snapshot``).
        stream: this keeper's own raw stream client.
        rule: how the market chains diffs (``MarketSpec.book_rule``).
        symbols: checks symbols and gives their amount precision.
        always: symbols whose books run from start to close.
        push_hz: the most pushes per second per book.
        snapshot_limit: levels per side asked of each snapshot.
        depth_stream: the diff stream suffix (``@depth@100ms`` or ``@depth``).
        limits: on-demand cap, idle grace period, ready timeout.
        clock: seconds for the idle rule; only differences are used.
        backoff: retry policy for failed REST calls (snapshots, metadata).
        first_diff_wait_s: how long a new book waits for its first diff before the snapshot.
        stale_after_s: how long a book is served without a diff or a new snapshot; past
            that it is refused and refreshed from REST (see :mod:`~marketcast.hub.book_sync`).
    """

    def __init__(
        self,
        *,
        rest: DepthSource,
        stream: RawStreams,
        rule: SyncRule,
        symbols: SymbolDirectory,
        always: Sequence[str] = (),
        push_hz: float = 10.0,
        snapshot_limit: int = 1000,
        depth_stream: str = "@depth@100ms",
        limits: FeedLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
        first_diff_wait_s: float = FIRST_DIFF_WAIT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        if push_hz <= 0:
            raise ValueError(f"push_hz must be positive, not {push_hz}")
        self._rest = rest
        self._stream = stream
        self._rule = rule
        self._symbols = symbols
        self._push_interval_s = 1.0 / push_hz
        self._snapshot_limit = snapshot_limit
        self._depth_stream = depth_stream
        self._backoff = backoff or Backoff()
        self._first_diff_wait_s = first_diff_wait_s
        self._stale_after_s = stale_after_s
        # Every book from the moment its stream is subscribed (before the registry
        # lists it), so the dispatcher never drops a diff that should be buffered.
        self._books: dict[str, LiveBook] = {}
        self._feeds: SymbolFeeds[LiveBook] = SymbolFeeds(
            self, always=always, limits=limits, clock=clock, name="order books"
        )
        self._started = False

    async def __aenter__(self) -> BookKeeper:
        await self.start()
        return self

    async def start(self) -> None:
        """Read the stream, and start the configured books (without waiting for them)."""
        if self._started:
            return
        self._started = True
        self._feeds.owner.start(self._dispatch(), name="order-book-stream")
        await self._feeds.start()

    async def aclose(self) -> None:
        await self._feeds.aclose()

    # -- BookFeed --------------------------------------------------------------------
    async def acquire(self, symbol: str) -> Release:
        """Hold ``symbol``'s book; return once it is synced.

        Raises:
            UnknownSymbol: not listed. CapacityExceeded: too many on-demand books.
            NotReady: not synced within the ready timeout.
        """
        await self._symbols.get(symbol)  # an unknown symbol must not take a slot
        return await self._feeds.acquire(symbol)

    def view(self, symbol: str, limit: int, rounding: Decimal) -> BookView:
        return self._book(symbol).view(limit, rounding)

    def watch(self, symbol: str, listener: Callable[[int], None]) -> Unsubscribe:
        return self._book(symbol).watch(listener)

    def status(self) -> dict[str, Any]:
        on_demand = set(self._feeds.on_demand())
        books: dict[str, Any] = {}
        for symbol, book in self._feeds.running().items():
            books[symbol] = book.status() | {
                "holders": self._feeds.holders(symbol),
                "on_demand": symbol in on_demand,
            }
        return {
            "books": books,
            "on_demand": len(on_demand),
            "max_on_demand": self._feeds.limits.max_on_demand,
        }

    async def sweep_idle(self) -> list[str]:
        """Stop the on-demand books idle for the grace period now (the janitor does this
        on its own every few seconds); return their symbols."""
        return await self._feeds.sweep()

    def _book(self, symbol: str) -> LiveBook:
        book = self._feeds.state(symbol)
        if book is None:
            raise NotReady(f"no order book is kept for {symbol}; acquire it first")
        return book

    # -- FeedHooks -------------------------------------------------------------------
    async def start_symbol(self, symbol: str) -> LiveBook:
        book = LiveBook(
            symbol,
            symbol.lower() + self._depth_stream,
            self._rule,
            self._backoff,
            self._stale_after_s,
        )
        self._books[symbol] = book
        try:
            await self._stream.add_streams([book.stream])
        except BaseException:
            del self._books[symbol]
            raise
        owner = self._feeds.owner
        book.tasks = (
            owner.start(self._follow(book), name=f"order-book-sync-{symbol}"),
            owner.start(book.run_pusher(self._push_interval_s), name=f"order-book-push-{symbol}"),
        )
        return book

    async def until_ready(self, symbol: str, state: LiveBook) -> None:
        await state.synced.wait()

    async def stop_symbol(self, symbol: str, state: LiveBook) -> None:
        self._books.pop(symbol, None)
        for task in state.tasks:
            await self._feeds.owner.cancel(task)
        if not self._feeds.closing:
            await self._stream.remove_streams([state.stream])

    # -- tasks -----------------------------------------------------------------------
    async def _follow(self, book: LiveBook) -> None:
        meta = await self._meta(book.symbol)
        if meta is None:
            return
        book.views = ViewCache(book.book, meta.amount_precision)
        await book.run_sync(self._rest, self._snapshot_limit, self._first_diff_wait_s)

    async def _meta(self, symbol: str) -> SymbolMeta | None:
        """The symbol's metadata, retried while the directory cannot answer yet."""
        backoff = self._backoff.fresh()
        while True:
            try:
                return await self._symbols.get(symbol)
            except UnknownSymbol:
                log.error("order book %s: the exchange does not list it; not followed", symbol)
                return None
            except (NotReady, ExchangeError) as error:
                delay = backoff.next_delay()
                # Not ready is the normal start-up order (exchange info loads meanwhile).
                level = logging.INFO if isinstance(error, NotReady) else logging.WARNING
                message = "order book %s: no metadata yet (%s); retry in %.1fs"
                log.log(level, message, symbol, error, delay)
                await asyncio.sleep(delay)

    async def _dispatch(self) -> None:
        async for event in self._stream.events():
            if isinstance(event, DepthEvent):
                book = self._books.get(event.symbol)
                if book is not None:
                    self._apply(book, event)
            elif isinstance(event, StreamsReconnected):
                for book in self._books.values():
                    if book.stream in event.streams:
                        book.request_resync("stream reconnected")

    def _apply(self, book: LiveBook, event: DepthEvent) -> None:
        try:
            book.on_diff(event.diff)
        except Exception:
            # A bug in one book must not stop the stream every other book reads.
            log.exception("order book %s: diff could not be applied", book.symbol)
            book.request_resync("a diff could not be applied")
