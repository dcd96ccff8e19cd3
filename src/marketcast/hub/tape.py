"""The hub's trade tapes (:class:`TradeFeed`): recent trades per followed symbol, gap-free.

:class:`TradeTapes` decides which tapes exist (configured symbols always, others on demand
through :class:`~marketcast.hub.symbol_feeds.SymbolFeeds`), subscribes each tape's trade
stream before loading its history, and runs the one task that reads the stream and hands
every trade to its tape. Loading, gap filling and delivery live in
:class:`~marketcast.hub.tape_sync.LiveTape`.

The stream must be this feed's own: :meth:`RawStreams.events` has a single consumer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from marketcast.domain.trades import Trade
from marketcast.errors import NotReady
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.messages import StreamsReconnected
from marketcast.exchanges.binance.trades import TradeEvent
from marketcast.hub.feed_ports import Release, Unsubscribe
from marketcast.hub.symbol_feeds import (
    DEFAULT_LIMITS,
    FeedLimits,
    RawStreams,
    SymbolDirectory,
    SymbolFeeds,
)
from marketcast.hub.tape_sync import LiveTape, TradeHistory
from marketcast.resources import AsyncResource

log = logging.getLogger(__name__)

__all__ = ["TradeHistory", "TradeTapes"]


class TradeTapes(AsyncResource):
    """Trade tapes kept continuous by id; start with ``async with``.

    Args:
        rest: aggregate trade history (``BinanceRest.agg_trades``).
        stream: this feed's own raw stream client.
        symbols: checks that a symbol is listed before it takes an on-demand slot.
        always: symbols whose tapes run from start to close.
        capacity: trades kept per symbol (the newest, by id).
        trade_stream: the stream suffix; ``@aggTrade`` matches REST ``aggTrades`` ids.
        limits: on-demand cap, idle grace period, ready timeout.
        clock: seconds for the idle rule; only differences are used.
        backoff: retry policy for failed REST calls.
    """

    def __init__(
        self,
        *,
        rest: TradeHistory,
        stream: RawStreams,
        symbols: SymbolDirectory,
        always: Sequence[str] = (),
        capacity: int = 1000,
        trade_stream: str = "@aggTrade",
        limits: FeedLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._rest = rest
        self._stream = stream
        self._symbols = symbols
        self._capacity = capacity
        self._trade_stream = trade_stream
        # Trade ids and aggregate ids are different sequences: keep only the one REST fills.
        self._aggregate = trade_stream.startswith("@aggTrade")
        self._backoff = backoff or Backoff()
        # Every tape from the moment its stream is subscribed (before the registry lists
        # it), so the dispatcher buffers the first trades instead of dropping them.
        self._tapes: dict[str, LiveTape] = {}
        self._feeds: SymbolFeeds[LiveTape] = SymbolFeeds(
            self, always=always, limits=limits, clock=clock, name="trade tapes"
        )
        self._started = False

    async def __aenter__(self) -> TradeTapes:
        await self.start()
        return self

    async def start(self) -> None:
        """Read the stream, and start the configured tapes (without waiting for them)."""
        if self._started:
            return
        self._started = True
        self._feeds.owner.start(self._dispatch(), name="trade-tape-stream")
        await self._feeds.start()

    async def aclose(self) -> None:
        await self._feeds.aclose()

    # -- TradeFeed -------------------------------------------------------------------
    async def acquire(self, symbol: str) -> Release:
        """Hold ``symbol``'s tape; return once its history is loaded.

        Raises:
            UnknownSymbol: not listed. CapacityExceeded: too many on-demand tapes.
            NotReady: not loaded within the ready timeout.
        """
        await self._symbols.get(symbol)  # an unknown symbol must not take a slot
        return await self._feeds.acquire(symbol)

    def recent(self, symbol: str, limit: int) -> list[Trade]:
        tape = self._tape(symbol)
        if not tape.loaded.is_set():
            raise NotReady(f"trade history of {symbol} is loading; retry")
        return tape.recent(limit)

    def watch(self, symbol: str, listener: Callable[[Sequence[Trade]], None]) -> Unsubscribe:
        return self._tape(symbol).watch(listener)

    def status(self) -> dict[str, Any]:
        on_demand = set(self._feeds.on_demand())
        tapes: dict[str, Any] = {}
        for symbol, tape in self._feeds.running().items():
            tapes[symbol] = tape.status() | {
                "holders": self._feeds.holders(symbol),
                "on_demand": symbol in on_demand,
            }
        return {
            "tapes": tapes,
            "on_demand": len(on_demand),
            "max_on_demand": self._feeds.limits.max_on_demand,
        }

    async def sweep_idle(self) -> list[str]:
        """Stop the on-demand tapes idle for the grace period now (the janitor does this
        on its own every few seconds); return their symbols."""
        return await self._feeds.sweep()

    def _tape(self, symbol: str) -> LiveTape:
        tape = self._feeds.state(symbol)
        if tape is None:
            raise NotReady(f"no trade tape is kept for {symbol}; acquire it first")
        return tape

    # -- FeedHooks -------------------------------------------------------------------
    async def start_symbol(self, symbol: str) -> LiveTape:
        stream = symbol.lower() + self._trade_stream
        tape = LiveTape(symbol, stream, self._capacity, self._backoff)
        self._tapes[symbol] = tape
        try:
            await self._stream.add_streams([stream])
        except BaseException:
            del self._tapes[symbol]
            raise
        task = self._feeds.owner.start(tape.run(self._rest), name=f"trade-tape-{symbol}")
        tape.tasks = (task,)
        return tape

    async def until_ready(self, symbol: str, state: LiveTape) -> None:
        await state.loaded.wait()

    async def stop_symbol(self, symbol: str, state: LiveTape) -> None:
        self._tapes.pop(symbol, None)
        for task in state.tasks:
            await self._feeds.owner.cancel(task)
        if not self._feeds.closing:
            await self._stream.remove_streams([state.stream])

    # -- the stream ------------------------------------------------------------------
    async def _dispatch(self) -> None:
        async for event in self._stream.events():
            if isinstance(event, TradeEvent):
                tape = self._tapes.get(event.symbol)
                if tape is not None and event.aggregate == self._aggregate:
                    self._apply(tape, event.trade)
            elif isinstance(event, StreamsReconnected):
                for tape in self._tapes.values():
                    if tape.stream in event.streams:
                        tape.on_reconnect()

    def _apply(self, tape: LiveTape, trade: Trade) -> None:
        try:
            tape.on_trade(trade)
        except Exception:
            # A bug in one tape must not stop the stream every other tape reads.
            log.exception("trade tape %s: trade %d could not be added", tape.symbol, trade.id)
