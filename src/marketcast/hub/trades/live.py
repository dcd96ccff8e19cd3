"""One symbol's live trade tape: the I/O around the pure :class:`TradeTape`.

A :class:`LiveTape` is fed live trades by its owner
(:class:`~marketcast.hub.trades.tapes.TradeTapes`) and runs one task, :meth:`LiveTape.run`:

1. load REST history (the live stream is already subscribed, its trades buffered),
2. merge both (the tape drops repeated ids) and become ready,
3. then, whenever asked, catch up after a reconnect (from the newest held id + 1 until
   REST has nothing newer) and fill id gaps from REST with ``from_id``. Ids REST shows
   never existed are marked unfillable and not asked for again; while a gap or a catch-up
   is left over after REST failed, a backed-off timer tries again.

Listeners get the trades in id order without a hole: a trade past a missing id is held
back until REST fills the gap (see :meth:`TradeTape.release`), so a follower may always
resume after the last id it holds. When ids pass out of the tape's window before they
could be filled (an outage longer than the tape holds, or REST failing while trades keep
coming), the tape has a hole for good: break listeners are told, so a follower can start
over from the tape rather than hold a hole unawares.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from marketcast.domain.trades import Trade, TradeTape, proven_absent
from marketcast.errors import ExchangeError, RateLimited, is_outage
from marketcast.exchanges.binance.limits import Backoff
from marketcast.hub.symbol_feeds.listeners import Listeners
from marketcast.metrics import TRADE_GAP_FILLS, TRADES_FILLED, ExchangeLag

log = logging.getLogger(__name__)

MAX_TRADES_PER_CALL = 1000
"""Binance returns at most this many aggregate trades per REST call."""
MAX_FILL_ATTEMPTS = 5
"""Failed REST calls in a row before a pass gives up and leaves the gap to the retry timer."""

TradesListener = Callable[[Sequence[Trade]], None]


class TradeHistory(Protocol):
    """Aggregate trades by id (``BinanceRest.agg_trades`` fits), ascending id."""

    async def agg_trades(
        self, symbol: str, *, from_id: int | None = None, limit: int = 1000
    ) -> list[Trade]: ...


class LiveTape:
    """One symbol's tape, its loading state, its gap filling and its listeners."""

    def __init__(
        self, symbol: str, stream: str, capacity: int, backoff: Backoff, market: str = "spot"
    ) -> None:
        self.symbol = symbol
        self.market = market
        self._lag = ExchangeLag(market, "trades")
        self.stream = stream
        self.tape = TradeTape(capacity)
        self.loaded = asyncio.Event()
        self.fills = 0
        self.filled = 0
        self.catch_ups = 0
        self.tasks: tuple[asyncio.Task[Any], ...] = ()  # owned by the feed's registry
        self.unfillable = 0
        self._backoff = backoff.fresh()
        self._retry = backoff.fresh()  # spaces the timer's passes while REST keeps failing
        # Live trades seen before the history was loaded. Bounded: beyond ``capacity`` the
        # oldest arrivals (the lowest ids) would be evicted by the newer ones anyway, and
        # a long REST outage must not grow this without limit.
        self._early: deque[Trade] = deque(maxlen=capacity)
        self._listeners: Listeners[Sequence[Trade]] = Listeners(f"trade tape {symbol}")
        self._break_listeners: Listeners[int] = Listeners(f"trade tape {symbol} breaks")
        self.breaks = 0  # told to the break listeners
        self._work = asyncio.Event()
        self._catch_up = False

    # -- input from the stream -------------------------------------------------------
    def on_trade(self, trade: Trade) -> None:
        if not self.loaded.is_set():
            self._early.append(trade)
            return
        newest = self.tape.newest(1)
        if self._listeners:
            self._lag.observe(trade.time_ms)
        self.tape.add([trade])
        self._publish()
        if newest and trade.id > newest[0].id + 1:
            self._work.set()  # an id jump: the trades in between are fetched from REST

    def on_reconnect(self) -> None:
        """Trades pushed while the stream was down are missing: fetch them."""
        if self.loaded.is_set():
            self._catch_up = True
            self._work.set()

    # -- reading ---------------------------------------------------------------------
    def recent(self, limit: int) -> list[Trade]:
        """Up to ``limit`` trades, newest first: the ones listeners have been given, never
        reaching across a hole, so a snapshot and the deliveries after it join."""
        return self.tape.continuous(limit)

    def watch(self, listener: TradesListener) -> Callable[[], None]:
        return self._listeners.watch(listener)

    def watch_breaks(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """``listener(breaks)`` whenever ids were lost for good (see the module)."""
        return self._break_listeners.watch(listener)

    def status(self) -> dict[str, Any]:
        newest = self.tape.newest(1)
        gaps = self.tape.missing_ids()
        unfillable = self.tape.unfillable_ids()
        return {
            "loaded": self.loaded.is_set(),
            "held": len(self.tape),
            "newest_id": newest[0].id if newest else None,
            "missing_ids": sum(last - first + 1 for first, last in gaps),
            "unfillable_ids": sum(last - first + 1 for first, last in unfillable),
            "buffered": len(self._early),
            "gap_fills": self.fills,
            "filled_trades": self.filled,
            "catch_ups": self.catch_ups,
            "breaks": self.breaks,
            "subscribers": len(self._listeners),
        }

    # -- the task --------------------------------------------------------------------
    async def run(self, rest: TradeHistory) -> None:
        """Load, then catch up and fill gaps whenever asked (cancelled on stop)."""
        limit = min(self.tape.capacity, MAX_TRADES_PER_CALL)
        history = await self._fetch(rest, None, limit, give_up=False)
        assert history is not None
        self.tape.add(history)
        self.tape.add(self._early)
        self._early.clear()
        self.tape.release()  # nobody followed the tape before this: nothing to tell
        self.loaded.set()
        log.info("trade tape %s loaded (%d trades)", self.symbol, len(self.tape))
        self._work.set()  # the live trades may not join the history: check for gaps
        while True:
            await self._next_work()
            if self._catch_up:
                self._catch_up = False
                await self._catch_up_from_rest(rest)
            await self._fill_gaps(rest)

    async def _next_work(self) -> None:
        """Wait for a trigger; while work is left over, for the retry timer at most."""
        if self._catch_up or self.tape.missing_ids():
            delay = self._retry.next_delay()  # capped by the backoff policy
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), delay)
        else:
            self._retry.reset()
            await self._work.wait()
        self._work.clear()

    async def _catch_up_from_rest(self, rest: TradeHistory) -> None:
        self.catch_ups += 1
        while newest := self.tape.newest(1):
            fetched = await self._fetch(rest, newest[0].id + 1, MAX_TRADES_PER_CALL)
            if fetched is None:
                self._catch_up = True  # still behind: the retry timer tries again
                return
            self.tape.fill(fetched)
            self._publish()
            if len(fetched) < MAX_TRADES_PER_CALL:
                return  # REST has nothing newer: caught up

    async def _fill_gaps(self, rest: TradeHistory) -> None:
        """Fetch every missing range, oldest first, until none is left or REST fails."""
        while gaps := self.tape.missing_ids():
            first, last = gaps[0]
            limit = min(last - first + 1, MAX_TRADES_PER_CALL)
            fetched = await self._fetch(rest, first, limit)
            if fetched is None:
                return  # the retry timer tries again
            self._take_fill(first, last, fetched)
            if not fetched:
                # REST does not list these ids yet (it can trail the stream): asking again
                # at once would spin; the retry timer asks again shortly.
                return

    def _take_fill(self, first: int, last: int, fetched: list[Trade]) -> None:
        """Add REST's answer for ``first..last`` and mark the ids it shows never existed.

        Whatever the tape then lets through is delivered, also trades past ``last``. The
        answer alone, not what was new, decides what is unfillable: live trades may have
        moved the window past ``first`` during the call, which makes a true answer look
        useless.
        """
        new = self.tape.fill(fetched)
        for low, high in proven_absent(first, last, [trade.id for trade in fetched]):
            self.tape.mark_unfillable(low, high)
            self.unfillable += high - low + 1
            log.warning(
                "trade tape %s: the exchange has no trades %d..%d; not asking again",
                self.symbol,
                low,
                high,
            )
        if new:
            self.fills += 1
            self.filled += len(new)
            TRADE_GAP_FILLS.labels(self.market).inc()
            TRADES_FILLED.labels(self.market).inc(len(new))
            log.info("trade tape %s: filled %d trades from id %d", self.symbol, len(new), first)
        self._publish()

    async def _fetch(
        self, rest: TradeHistory, from_id: int | None, limit: int, *, give_up: bool = True
    ) -> list[Trade] | None:
        """One REST call, retried with backoff; ``None`` after too many failures."""
        failures = 0
        while True:
            try:
                fetched = await rest.agg_trades(self.symbol, from_id=from_id, limit=limit)
            except ExchangeError as error:
                failures += 1
                if give_up and failures >= MAX_FILL_ATTEMPTS:
                    log.error("trade tape %s: giving up for now: %s", self.symbol, error)
                    return None
                delay = self._backoff.next_delay()
                if isinstance(error, RateLimited):
                    delay = max(delay, error.retry_after)
                level = logging.DEBUG if is_outage(error) else logging.WARNING
                log.log(level, "trade tape %s: %s; retrying in %.1fs", self.symbol, error, delay)
                await asyncio.sleep(delay)
            else:
                self._backoff.reset()
                return fetched

    def _publish(self) -> None:
        """Tell the listeners what the tape now lets through, or that they must start over."""
        released = self.tape.release()
        if released.broke:
            # The break listeners start over from the tape, which holds these trades.
            self.breaks += 1
            log.warning("trade tape %s: trades passed out of reach unfilled", self.symbol)
            self._break_listeners.tell(self.breaks)
        elif released.trades:
            self._listeners.tell(released.trades)
