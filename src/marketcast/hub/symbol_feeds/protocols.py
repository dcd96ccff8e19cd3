"""What the API reads of order books, trade tapes and liquidations: three protocols.

Implemented by :mod:`marketcast.hub.books.keeper`, :mod:`marketcast.hub.trades.tapes` and
:mod:`marketcast.hub.liquidations.keeper`; consumed by the native and OrderFox APIs. Each feed
is per symbol and reference counted: :meth:`acquire` starts the symbol's feed if it is
not running (configured symbols always run), waits until it can be served and returns
the function that releases it; a feed nobody holds stops after an idle grace period.

Listeners are called synchronously from the feed's task and must not block: they hand
the news to a client's bounded outbound buffer, exactly like candle bus subscribers.
Symbols are exchange ids (``BTCUSDT``); resolving what a client typed is the caller's job.

Errors: :class:`~marketcast.errors.UnknownSymbol` (not listed, or no USD-M contract for
liquidations), :class:`~marketcast.errors.NotReady` (not synced within the timeout, e.g.
the exchange is unreachable), :class:`~marketcast.errors.CapacityExceeded` (too many
on-demand symbols).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from marketcast.domain.book_view import BookView
from marketcast.domain.depth_journal import Depth, DepthChange, StartOver
from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import Bucket, Liquidation
from marketcast.domain.trades import Trade

Release = Callable[[], None]
Unsubscribe = Callable[[], None]


class BookFeed(Protocol):
    async def acquire(self, symbol: str) -> Release:
        """Keep ``symbol``'s local book; return once it is synced with the exchange."""
        ...

    def view(self, symbol: str, limit: int, rounding: Decimal) -> BookView:
        """The current aggregated view; computed at most once per book version and
        ``(limit, rounding)``, shared by every caller. NotReady while resyncing."""
        ...

    def depth(self, symbol: str, limit: int | None = None) -> Depth:
        """The exact book: ``limit`` levels per side as the exchange sent them (``None``:
        every level held). NotReady while resyncing."""
        ...

    def depth_since(
        self, symbol: str, epoch: int, update_id: int
    ) -> DepthChange | StartOver | None:
        """What a copy of the exact book made at ``(epoch, update_id)`` lacks: the merged
        changes, ``START_OVER`` (take a new :meth:`depth`), or ``None`` (nothing new).
        NotReady while resyncing."""
        ...

    def watch(self, symbol: str, listener: Callable[[int], None]) -> Unsubscribe:
        """``listener(version)`` after the book changed, at most ``push_hz`` times a
        second per symbol (the latest version wins), and once after every resync."""
        ...

    def status(self) -> dict[str, Any]:
        """Per symbol: state, last update id, resyncs, subscribers (for /health)."""
        ...


class TradeFeed(Protocol):
    async def acquire(self, symbol: str) -> Release:
        """Keep ``symbol``'s tape (REST history first, then live); return once loaded."""
        ...

    def recent(self, symbol: str, limit: int) -> list[Trade]:
        """Up to ``limit`` trades, newest first, continuous by id."""
        ...

    def watch(self, symbol: str, listener: Callable[[Sequence[Trade]], None]) -> Unsubscribe:
        """``listener(trades)`` with trades new to the tape, ascending id (live ones and
        gap fills alike; a fill may deliver ids older than ones already delivered)."""
        ...

    def watch_breaks(self, symbol: str, listener: Callable[[int], None]) -> Unsubscribe:
        """``listener(breaks)`` when ids were lost for good: the tape has a hole, and
        whoever follows it must start over from :meth:`recent`."""
        ...

    def status(self) -> dict[str, Any]: ...


class LiquidationFeed(Protocol):
    def covers(self, symbol: str) -> bool:
        """Whether ``symbol`` has a USD-M perpetual (liquidations exist only there).

        Raises:
            NotReady: the list of perpetuals is not loaded yet (the exchange is down or
                the node is starting): callers answer a retryable ``not_ready``, never
                "no perpetual".
        """
        ...

    async def acquire(self, symbol: str) -> Release:
        """Follow ``symbol``'s ``@forceOrder``; return once its stored history is loaded."""
        ...

    def recent(self, symbol: str, limit: int = 50) -> list[Liquidation]:
        """Up to ``limit`` liquidations, newest first (history and live, de-duplicated)."""
        ...

    def volume(self, symbol: str, timeframe: Interval, start_ms: int, end_ms: int) -> list[Bucket]:
        """Non-empty volume buckets of ``timeframe`` overlapping ``[start_ms, end_ms]``."""
        ...

    def bucket(self, symbol: str, timeframe: Interval, time_ms: int) -> Bucket | None:
        """The bucket of ``timeframe`` holding ``time_ms`` (the live volume update)."""
        ...

    def watch(self, symbol: str, listener: Callable[[Liquidation], None]) -> Unsubscribe:
        """``listener(liquidation)`` for every new (not previously seen) liquidation."""
        ...

    def status(self) -> dict[str, Any]: ...
