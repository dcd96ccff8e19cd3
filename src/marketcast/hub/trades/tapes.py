"""The hub's trade tapes (:class:`TradeFeed`): recent trades per followed symbol, gap-free.

:class:`TradeTapes` decides which tapes exist (configured symbols always, others on demand
through :class:`~marketcast.hub.symbol_feeds.running.SymbolFeeds`), subscribes each tape's trade
stream before loading its history, and runs the one task that reads the stream and hands
every trade to its tape (the shell it shares with the order books is
:class:`~marketcast.hub.symbol_feeds.streamed.StreamedFeeds`). Loading, gap filling and delivery
live in :class:`~marketcast.hub.trades.live.LiveTape`.

The stream must be this feed's own: :meth:`RawStreams.events` has a single consumer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from marketcast.domain.trades import Trade
from marketcast.errors import NotReady
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.trades import TradeEvent
from marketcast.hub.symbol_feeds.protocols import Unsubscribe
from marketcast.hub.symbol_feeds.running import (
    DEFAULT_LIMITS,
    FeedLimits,
    RawStreams,
    SymbolDirectory,
)
from marketcast.hub.symbol_feeds.streamed import StreamedFeeds
from marketcast.hub.trades.live import LiveTape, TradeHistory

log = logging.getLogger(__name__)

__all__ = ["TradeHistory", "TradeTapes"]


class TradeTapes(StreamedFeeds[LiveTape]):
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
        market: str = "spot",
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._rest = rest
        self._capacity = capacity
        self._market = market
        # Trade ids and aggregate ids are different sequences: keep only the one REST fills.
        self._aggregate = trade_stream.startswith("@aggTrade")
        self._backoff = backoff or Backoff()
        super().__init__(
            stream=stream,
            symbols=symbols,
            stream_suffix=trade_stream,
            kind="trade tape",
            status_key="tapes",
            always=always,
            limits=limits,
            clock=clock,
        )

    # -- TradeFeed -------------------------------------------------------------------
    def recent(self, symbol: str, limit: int) -> list[Trade]:
        tape = self._state(symbol)
        if not tape.loaded.is_set():
            raise NotReady(f"trade history of {symbol} is loading; retry")
        return tape.recent(limit)

    def watch(self, symbol: str, listener: Callable[[Sequence[Trade]], None]) -> Unsubscribe:
        return self._state(symbol).watch(listener)

    def watch_breaks(self, symbol: str, listener: Callable[[int], None]) -> Unsubscribe:
        return self._state(symbol).watch_breaks(listener)

    # -- StreamedFeeds ---------------------------------------------------------------
    def _new_state(self, symbol: str, stream: str) -> LiveTape:
        return LiveTape(symbol, stream, self._capacity, self._backoff, self._market)

    def _state_tasks(self, state: LiveTape) -> dict[str, Coroutine[Any, Any, None]]:
        return {f"trade-tape-{state.symbol}": state.run(self._rest)}

    async def until_ready(self, symbol: str, state: LiveTape) -> None:
        await state.loaded.wait()

    def _route(self, event: object) -> None:
        if isinstance(event, TradeEvent):
            tape = self._live.get(event.symbol)
            if tape is not None and event.aggregate == self._aggregate:
                self._apply(tape, event.trade)

    def _on_reconnect(self, state: LiveTape) -> None:
        state.on_reconnect()

    def _apply(self, tape: LiveTape, trade: Trade) -> None:
        try:
            tape.on_trade(trade)
        except Exception:
            # A bug in one tape must not stop the stream every other tape reads.
            log.exception("trade tape %s: trade %d could not be added", tape.symbol, trade.id)
