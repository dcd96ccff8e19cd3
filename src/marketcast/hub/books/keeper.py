"""The hub's order books (:class:`BookFeed`): one local book per followed symbol.

:class:`BookKeeper` decides which books exist (configured symbols always, others on demand
through :class:`~marketcast.hub.symbol_feeds.running.SymbolFeeds`), subscribes each book's diff
stream, and runs the one task that reads the stream and hands every diff to its book (the
shell it shares with the trade tapes is
:class:`~marketcast.hub.symbol_feeds.streamed.StreamedFeeds`).
Everything per book (snapshots, resyncs, pushes) lives in
:class:`~marketcast.hub.books.live.LiveBook`.

The stream must be this keeper's own: :meth:`RawStreams.events` has a single consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from typing import Any

from marketcast.domain.book_view import BookView, ViewCache
from marketcast.domain.depth_journal import Depth, DepthChange, StartOver
from marketcast.domain.market import SymbolMeta
from marketcast.domain.orderbook import SyncRule
from marketcast.errors import ExchangeError, NotReady, UnknownSymbol, is_outage
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.limits import Backoff
from marketcast.hub.books.live import STALE_AFTER_S, DepthSource, LiveBook
from marketcast.hub.symbol_feeds.protocols import Unsubscribe
from marketcast.hub.symbol_feeds.running import (
    DEFAULT_LIMITS,
    FeedLimits,
    RawStreams,
    SymbolDirectory,
)
from marketcast.hub.symbol_feeds.streamed import StreamedFeeds

log = logging.getLogger(__name__)

__all__ = ["BookKeeper", "DepthSource", "RawStreams", "SymbolDirectory"]

# How long a new book waits for its first diff before taking the snapshot anyway.
FIRST_DIFF_WAIT_S = 3.0


class BookKeeper(StreamedFeeds[LiveBook]):
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
            that it is refused and refreshed from REST (see :mod:`~marketcast.hub.books.live`).
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
        market: str = "spot",
    ) -> None:
        if push_hz <= 0:
            raise ValueError(f"push_hz must be positive, not {push_hz}")
        self._rest = rest
        self._rule = rule
        self._market = market
        self._push_interval_s = 1.0 / push_hz
        self._snapshot_limit = snapshot_limit
        self._backoff = backoff or Backoff()
        self._first_diff_wait_s = first_diff_wait_s
        self._stale_after_s = stale_after_s
        super().__init__(
            stream=stream,
            symbols=symbols,
            stream_suffix=depth_stream,
            kind="order book",
            status_key="books",
            always=always,
            limits=limits,
            clock=clock,
        )

    # -- BookFeed --------------------------------------------------------------------
    def view(self, symbol: str, limit: int, rounding: Decimal) -> BookView:
        return self._state(symbol).view(limit, rounding)

    def depth(self, symbol: str, limit: int | None = None) -> Depth:
        return self._state(symbol).depth(limit)

    def depth_since(
        self, symbol: str, epoch: int, update_id: int
    ) -> DepthChange | StartOver | None:
        return self._state(symbol).depth_since(epoch, update_id)

    def watch(self, symbol: str, listener: Callable[[int], None]) -> Unsubscribe:
        return self._state(symbol).watch(listener)

    # -- StreamedFeeds ---------------------------------------------------------------
    def _new_state(self, symbol: str, stream: str) -> LiveBook:
        return LiveBook(
            symbol, stream, self._rule, self._backoff, self._stale_after_s, market=self._market
        )

    def _state_tasks(self, state: LiveBook) -> dict[str, Coroutine[Any, Any, None]]:
        return {
            f"order-book-sync-{state.symbol}": self._follow(state),
            f"order-book-push-{state.symbol}": state.run_pusher(self._push_interval_s),
        }

    async def until_ready(self, symbol: str, state: LiveBook) -> None:
        await state.synced.wait()

    def _route(self, event: object) -> None:
        if isinstance(event, DepthEvent):
            book = self._live.get(event.symbol)
            if book is not None:
                self._apply(book, event)

    def _on_reconnect(self, state: LiveBook) -> None:
        state.request_resync("stream reconnected")

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
                # Not ready is the normal start-up order (exchange info loads meanwhile), and
                # an unreachable exchange is reported once by the REST client's outage log.
                quiet = isinstance(error, NotReady) or is_outage(error)
                level = logging.DEBUG if quiet else logging.WARNING
                message = "order book %s: no metadata yet (%s); retry in %.1fs"
                log.log(level, message, symbol, error, delay)
                await asyncio.sleep(delay)

    def _apply(self, book: LiveBook, event: DepthEvent) -> None:
        try:
            book.on_diff(event.diff)
        except Exception:
            # A bug in one book must not stop the stream every other book reads.
            log.exception("order book %s: diff could not be applied", book.symbol)
            book.request_resync("a diff could not be applied")
