"""Liquidations of USD-M perpetuals: stored, bucketed and fanned out per symbol.

:class:`LiquidationKeeper` implements
:class:`~marketcast.hub.symbol_feeds.protocols.LiquidationFeed`.
For every symbol it follows (configured ones always, others while held, see
:class:`~marketcast.hub.symbol_feeds.running.SymbolFeeds`) it subscribes ``<symbol>@forceOrder``,
loads the stored history (as far back as the buckets reach) into a
:class:`~marketcast.hub.liquidations.holdings.SymbolLiquidations`, and counts and announces
every live liquidation it has not seen before. Once the stored history is in, the
symbol is served; the external history service's latest are merged when they arrive
(once per symbol), and those not seen before are announced like live ones.

Listeners hear a liquidation first, then it is queued for the store
(:class:`~marketcast.store.liquidations.LiquidationWriter`): a slow or failing store
costs persistence, never delivery. No event, write or load failure stops the feed.

``@forceOrder`` is a sample (at most one liquidation per symbol and second), and a
liquidation pushed while the connection was down is lost for good: nothing can fetch it
again. Counts and volumes are therefore lower bounds, never totals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import Bucket, Liquidation
from marketcast.errors import NotReady, UnknownSymbol, is_outage
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.messages import LiquidationEvent
from marketcast.hub.liquidations.holdings import (
    DEFAULT_RECENT,
    EXTERNAL_HISTORY_LIMIT,
    ExternalHistory,
    FuturesCatalog,
    KeeperStats,
    LiquidationListeners,
    SymbolLiquidations,
    history_start,
    seen_limit_for,
)
from marketcast.hub.symbol_feeds.protocols import Release, Unsubscribe
from marketcast.hub.symbol_feeds.running import DEFAULT_LIMITS, FeedLimits, RawStreams, SymbolFeeds
from marketcast.hub.tasks import TaskOwner
from marketcast.resources import AsyncResource, cancel_and_wait
from marketcast.store.liquidations import DEFAULT_PENDING, LiquidationStore, LiquidationWriter

log = logging.getLogger(__name__)


def force_order_stream(symbol: str) -> str:
    """Binance's stream name for ``symbol``'s liquidations (``btcusdt@forceOrder``)."""
    return f"{symbol.lower()}@forceOrder"


@dataclass(slots=True)
class _Followed:
    """A followed symbol: its state, and whether its stored and external history are in."""

    state: SymbolLiquidations
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    merged: asyncio.Event = field(default_factory=asyncio.Event)
    loader: asyncio.Task[None] | None = None


class LiquidationKeeper(AsyncResource):
    """Per-symbol liquidation history and volume buckets, from ``@forceOrder`` and the store.

    Start it with ``async with`` (or :meth:`start`): it loads the catalog in the
    background, retrying while the exchange is down; :meth:`covers` raises ``NotReady``
    until then. ``max_pending`` bounds the batches waiting for the store.
    """

    def __init__(
        self,
        *,
        catalog: FuturesCatalog,
        stream: RawStreams,
        store: LiquidationStore,
        history: ExternalHistory | None = None,
        always: Sequence[str] = (),
        limits: FeedLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        keep_recent: int = DEFAULT_RECENT,
        backoff: Backoff | None = None,
        max_pending: int = DEFAULT_PENDING,
    ) -> None:
        self.stats = KeeperStats()
        self._catalog, self._stream, self._store, self._history = catalog, stream, store, history
        self._always, self._limits, self._clock = tuple(always), limits, clock
        self._keep_recent = keep_recent
        self._backoff = backoff or Backoff(base=1.0, cap=30.0)
        self._writer = LiquidationWriter(store, max_pending=max_pending)
        self._owner = TaskOwner()
        self._pump_task: asyncio.Task[None] | None = None
        self._covered: frozenset[str] = frozenset()
        self._catalog_loaded = asyncio.Event()
        self._feeds: SymbolFeeds[_Followed] | None = None
        self._listeners = LiquidationListeners()
        self._merged_history: set[str] = set()  # once per symbol and process (OrderFox)
        self._started = False

    async def __aenter__(self) -> LiquidationKeeper:
        await self.start()
        return self

    async def start(self) -> None:
        """Start reading events and loading the catalog; returns at once."""
        if not self._started:
            self._started = True
            self._writer.start()
            self._pump_task = self._owner.start(self._pump(), name="liquidations-pump")
            self._owner.start(self._load_catalog(), name="liquidations-catalog")

    # -- LiquidationFeed -----------------------------------------------------------------

    def covers(self, symbol: str) -> bool:
        """Whether ``symbol`` has a USD-M perpetual; ``NotReady`` until the catalog is in."""
        if not self._catalog_loaded.is_set():
            raise NotReady("USD-M symbol list not loaded yet (exchange down?); retry")
        return symbol in self._covered

    async def acquire(self, symbol: str) -> Release:
        feeds = await self._ready_feeds()
        return await feeds.acquire(symbol)

    def recent(self, symbol: str, limit: int = 50) -> list[Liquidation]:
        followed = self._followed(symbol)
        return followed.state.recent(limit) if followed else []

    def volume(self, symbol: str, timeframe: Interval, start_ms: int, end_ms: int) -> list[Bucket]:
        followed = self._followed(symbol)
        return followed.state.volume(timeframe, start_ms, end_ms) if followed else []

    def bucket(self, symbol: str, timeframe: Interval, time_ms: int) -> Bucket | None:
        followed = self._followed(symbol)
        return followed.state.bucket(timeframe, time_ms) if followed else None

    def watch(self, symbol: str, listener: Callable[[Liquidation], None]) -> Unsubscribe:
        return self._listeners.watch(symbol, listener)

    def status(self) -> dict[str, Any]:
        feeds = self._feeds
        symbols = {
            symbol: {
                "loaded": followed.loaded.is_set(),
                "history_merged": followed.merged.is_set(),
                "liquidations": len(followed.state),
                "newest_ms": followed.state.newest_time(),
                "holders": feeds.holders(symbol) if feeds else 0,
                "watchers": self._listeners.count(symbol),
            }
            for symbol, followed in (feeds.running() if feeds else {}).items()
        }
        writer = self._writer
        return {
            "catalog_loaded": self._catalog_loaded.is_set(),
            "perpetuals": len(self._covered),
            **asdict(self.stats),
            "listener_errors": self._listeners.errors,
            "store_failures": writer.failures,
            "store_retries": writer.retries,
            "last_store_error": writer.last_error,
            "persist_pending": writer.pending,
            "persist_dropped": writer.dropped,
            "symbols": symbols,
        }

    # -- catalog -----------------------------------------------------------------------

    async def _ready_feeds(self) -> SymbolFeeds[_Followed]:
        if not self._catalog_loaded.is_set():
            try:
                async with asyncio.timeout(self._limits.ready_timeout_s):
                    await self._catalog_loaded.wait()
            except TimeoutError:
                raise NotReady("USD-M symbol list not loaded yet (exchange down?); retry") from None
        assert self._feeds is not None  # set before the event
        return self._feeds

    async def _load_catalog(self) -> None:
        while True:
            try:
                listings = await self._catalog.exchange_info()
                break
            except Exception as error:  # the exchange being down is expected; retry
                delay = self._backoff.next_delay()
                level = logging.DEBUG if is_outage(error) else logging.WARNING
                log.log(level, "USD-M exchange info failed, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
        self._covered = frozenset(listing.symbol for listing in listings)
        always = [s for s in self._always if s in self._covered]
        for symbol in sorted(set(self._always) - self._covered):
            log.warning("%s has no USD-M perpetual: no liquidations to follow", symbol)
        feeds = SymbolFeeds(
            self, always=always, limits=self._limits, clock=self._clock, name="liquidations"
        )
        self._feeds = feeds
        await feeds.start()
        self._catalog_loaded.set()

    def _followed(self, symbol: str) -> _Followed | None:
        return self._feeds.state(symbol) if self._feeds else None

    # -- FeedHooks ---------------------------------------------------------------------

    async def start_symbol(self, symbol: str) -> _Followed:
        if symbol not in self._covered:
            raise UnknownSymbol(symbol)
        seen = seen_limit_for(self._store.capacity)
        followed = _Followed(
            SymbolLiquidations(symbol, keep_recent=self._keep_recent, seen_limit=seen)
        )
        # Subscribe before loading: whatever arrives meanwhile is absorbed all the same.
        await self._stream.add_streams([force_order_stream(symbol)])
        assert self._feeds is not None
        followed.loader = self._feeds.owner.start(
            self._load_history(symbol, followed), name=f"liquidations-load-{symbol}"
        )
        return followed

    async def until_ready(self, symbol: str, state: _Followed) -> None:
        await state.loaded.wait()

    async def stop_symbol(self, symbol: str, state: _Followed) -> None:
        if state.loader is not None:
            await cancel_and_wait(state.loader)
        if self._feeds is not None and not self._feeds.closing:
            await self._stream.remove_streams([force_order_stream(symbol)])

    # -- history -----------------------------------------------------------------------

    async def _load_history(self, symbol: str, followed: _Followed) -> None:
        """Stored history first (then the symbol is served), the external one after it."""
        followed.state.absorb(await self._stored_history(symbol))
        followed.loaded.set()
        if self._history is not None and symbol not in self._merged_history:
            fetched = await self._fetch_history(self._history, symbol)
            self._merged_history.add(symbol)
            self._announce(symbol, followed.state.absorb(sorted(fetched, key=_by_time)))
        followed.merged.set()

    async def _stored_history(self, symbol: str) -> list[Liquidation]:
        """What the buckets can hold of the stored history; retried until it loads."""
        backoff = self._backoff.fresh()
        while True:
            try:
                newest = await self._store.recent(symbol, 1)
                if not newest:
                    return []
                return await self._store.since(symbol, history_start(newest[0].time_ms))
            except Exception as error:  # Redis restarting, or a bug: the symbol must load
                self.stats.load_failures += 1
                delay = backoff.next_delay()
                level = logging.DEBUG if is_outage(error) else logging.WARNING
                message = "loading %s liquidations failed, retry in %.1fs: %s"
                log.log(level, message, symbol, delay, error)
                await asyncio.sleep(delay)

    @staticmethod
    async def _fetch_history(history: ExternalHistory, symbol: str) -> list[Liquidation]:
        try:
            return await history.recent(symbol, EXTERNAL_HISTORY_LIMIT)
        except Exception:  # optional by design (seed 004): never block the live feed on it
            log.exception("external liquidation history for %s failed", symbol)
            return []

    # -- live --------------------------------------------------------------------------

    async def _pump(self) -> None:
        async for event in self._stream.events():
            if not isinstance(event, LiquidationEvent):
                continue
            try:
                self._on_liquidation(event.symbol, event.liquidation)
            except Exception:  # one bad event must not end liquidations for every symbol
                self.stats.event_failures += 1
                log.exception("liquidation event of %s failed", event.symbol)

    def _on_liquidation(self, symbol: str, liquidation: Liquidation) -> None:
        followed = self._followed(symbol)
        if followed is None:
            return  # unsubscribed meanwhile
        self.stats.events += 1
        fresh = followed.state.absorb([liquidation])
        if not fresh:
            self.stats.duplicates += 1
        self._announce(symbol, fresh)

    def _announce(self, symbol: str, fresh: list[Liquidation]) -> None:
        """Tell the listeners about ``fresh``, then queue it for the store (never waits)."""
        self._listeners.tell(symbol, fresh)
        self._writer.offer(symbol, fresh)

    async def aclose(self) -> None:
        """Stop reading events first, then every symbol, then store what is queued."""
        if self._pump_task is not None:
            await cancel_and_wait(self._pump_task)
        await self._owner.aclose()
        if self._feeds is not None:
            await self._feeds.aclose()
        await self._writer.aclose()


def _by_time(liquidation: Liquidation) -> int:
    return liquidation.time_ms
