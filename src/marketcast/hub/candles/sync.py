"""One topic's sync worker: bootstrap, gap-fill, finalize, then store and publish.

This is where the candle sync rules (``docs/sync.md``) happen. For every stream update
the worker makes the store continuous up to it *before* storing it, and publishes only
what the store accepted, so a client that upserts every message by open time on top of a
snapshot holds exactly the exchange's series. Updates never wait behind each other per
client; they wait here, per topic, while REST fills a gap, coalesced in
:class:`PendingUpdates`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.series import absent_ranges, breaks, missing_before
from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeError, is_outage
from marketcast.hub.candles.history import KlineHistory
from marketcast.hub.candles.pending import PendingUpdates
from marketcast.hub.turns import NODE_TURNS, TurnBudget
from marketcast.metrics import CANDLES_FILLED, EXCHANGE_GAPS, INGEST_TO_PUBLISH
from marketcast.store.interface import CandleStore

log = logging.getLogger(__name__)

_PAGE = 1000
_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


class Publish(Protocol):
    """Where a stored change goes (the bus); ``event_ms`` as in ``Published``."""

    def __call__(self, topic: Topic, candle: Candle, event_ms: int | None = None, /) -> object: ...


@dataclass(slots=True)
class SyncStats:
    candles_filled: int = 0
    fills: int = 0
    resyncs: int = 0
    exchange_gaps: int = 0
    failures: int = 0
    last_error: str | None = None


class TopicSync:
    """Owns the write path of one topic. Run :meth:`run` as one task; feed it with
    :meth:`offer` and :meth:`request_resync` from the stream reader."""

    def __init__(
        self,
        topic: Topic,
        store: CandleStore,
        history: KlineHistory,
        publish: Publish,
        clock_ms: Callable[[], int],
        *,
        on_replaced: Callable[[Topic], None] = lambda topic: None,
        market: str = "spot",
        turns: TurnBudget | None = None,
    ) -> None:
        self.topic = topic
        self._store = store
        self._history = history
        self._publish = publish
        self._clock_ms = clock_ms
        self._on_replaced = on_replaced
        # Offered candles and their exchange push times, published with the candle so
        # clients can tell how fresh an update is (and the benchmark its latency).
        self._pending = PendingUpdates()
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()
        self.stats = SyncStats()
        self._market = market
        # Shared by a node's topics: their fan-out yields to I/O once a turn's share is used.
        self._turns = turns or NODE_TURNS
        # When the oldest update still waiting in the mailbox arrived (monotonic seconds).
        self._offered_at: float | None = None
        self._ingest_latency = INGEST_TO_PUBLISH.labels(market, "candles")

    @property
    def healthy(self) -> bool:
        return self.ready.is_set() and self.stats.last_error is None

    def offer(self, candle: Candle, event_ms: int | None = None) -> None:
        self._pending.add(candle, event_ms)
        if self._offered_at is None:
            self._offered_at = time.monotonic()
        self._wake.set()

    def request_resync(self) -> None:
        self._pending.request_resync()
        self._wake.set()

    async def run(self) -> None:
        await self._retrying(self._bootstrap)
        self.ready.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._retrying(self._drain)

    async def _retrying(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` until it succeeds: the exchange being down must not lose updates."""
        attempt = 0
        while True:
            try:
                await step()
            except Exception as error:
                # Exchange trouble and store outages are expected (the store logs an outage
                # once, not once per topic); anything else is a bug, but one topic's bug
                # must not freeze its chart forever: log it loudly, report it, retry.
                self.stats.failures += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"
                delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                if is_outage(error):
                    log.debug("sync %s waits for the store or exchange: %s", self.topic, error)
                elif isinstance(error, ExchangeError):
                    log.warning("sync %s failed, retrying in %.1fs: %s", self.topic, delay, error)
                else:
                    log.exception("sync %s hit a bug, retrying in %.1fs", self.topic, delay)
                attempt += 1
                await asyncio.sleep(delay)
            else:
                self.stats.last_error = None
                return

    async def _drain(self) -> None:
        """Apply everything in the mailbox; on failure put back what was not applied."""
        resync, candles, event_ms = self._pending.take()
        offered_at, self._offered_at = self._offered_at, None
        done = 0
        try:
            if resync:
                await self._resync()
                resync = False
            for candle in candles:
                await self._apply(candle, event_ms.get(candle.open_time))
                done += 1
        except Exception:
            if resync:
                self._pending.request_resync()
            for candle in candles[done:]:
                self._pending.add(candle, event_ms.get(candle.open_time))
            self._offered_at = offered_at  # still waiting: its latency is not over
            raise
        if offered_at is not None and candles:
            # The oldest update of the batch: what a client waited longest for.
            self._ingest_latency.observe(time.monotonic() - offered_at)

    async def _bootstrap(self) -> None:
        if await self._store.last(self.topic) is not None:
            await self._resync()  # a persistent store survived a restart: fill the rest
            return
        candles = await self._history.latest_klines(self.topic, self._store.capacity)
        times = [c.open_time for c in candles]
        await self._record_gaps(breaks(times, self.topic.interval))
        await self._store.replace(self.topic, candles, now_ms=self._clock_ms())
        self._on_replaced(self.topic)  # history changed without publishing it
        log.debug("bootstrapped %s with %d candles", self.topic, len(candles))

    async def _apply(self, candle: Candle, event_ms: int | None) -> None:
        last = await self._store.last(self.topic)
        if last is None:
            # The store lost the topic (a Redis restart without persistence): rebuild it
            # before storing anything, or the series would restart from this candle.
            await self._bootstrap()
            last = await self._store.last(self.topic)
        if last is not None:
            missing = missing_before(last, candle.open_time, self.topic.interval)
            if missing is not None:
                await self._fill(missing, closed_before=candle.open_time)
        await self._store_and_publish([candle], event_ms)

    async def _fill(self, missing: TimeRange, *, closed_before: int) -> None:
        missing = self._within_buffer(missing)
        fetched = await self._history.klines_range(self.topic, missing, closed_before=closed_before)
        await self._record_gaps(
            absent_ranges(missing, (c.open_time for c in fetched), self.topic.interval)
        )
        changed = await self._store_and_publish(fetched)
        self.stats.fills += 1
        self._count_filled(len(changed))

    def _within_buffer(self, missing: TimeRange) -> TimeRange:
        """Only the newest ``capacity`` candles of a long outage can be kept: fetch those.

        The older ones would be evicted by the very same upsert, so fetching (and
        publishing) them would only cost exchange weight and flood every subscriber.
        """
        interval = self.topic.interval
        keep = self._store.capacity
        if interval.steps_between(missing.first, missing.last) < keep:
            return missing
        first = missing.last
        for _ in range(keep - 1):
            first = interval.prev_open(first)
        return TimeRange(first, missing.last)

    async def _resync(self) -> None:
        """Bring the topic up to the exchange's present from its last stored candle.

        Pages forward from the stored tail. A full page's last row is re-read as the next
        page's first: only the newest row of the newest page may still be forming.
        """
        last = await self._store.last(self.topic)
        if last is None:
            await self._bootstrap()
            return
        self.stats.resyncs += 1
        start = last.open_time
        while True:
            page = await self._history.klines(self.topic, start=start, limit=_PAGE)
            if not page:
                return
            full = len(page) == _PAGE
            keep = page[:-1] if full else page
            span = TimeRange(start, page[-1].open_time)
            await self._record_gaps(
                absent_ranges(span, (c.open_time for c in page), self.topic.interval)
            )
            changed = await self._store_and_publish(keep)
            self._count_filled(len(changed))
            if not full:
                return
            start = page[-1].open_time

    async def _store_and_publish(
        self, candles: Sequence[Candle], event_ms: int | None = None
    ) -> list[Candle]:
        if not candles:
            return []
        if self._turns.spent():
            await asyncio.sleep(0)  # fan-out had its share of this turn: let I/O in first
        changed = await self._store.upsert_many(self.topic, candles, now_ms=self._clock_ms())
        for candle in changed:
            self._publish(self.topic, candle, event_ms)
        if len(changed) > 1:
            await asyncio.sleep(0)  # let client writers run between large batches
        return changed

    def _count_filled(self, candles: int) -> None:
        self.stats.candles_filled += candles
        CANDLES_FILLED.labels(self._market).inc(candles)

    async def _record_gaps(self, gaps: Sequence[TimeRange]) -> None:
        if gaps:
            self.stats.exchange_gaps += len(gaps)
            EXCHANGE_GAPS.labels(self._market).inc(len(gaps))
            log.warning("exchange has no candles for %s in %s", self.topic, gaps)
            await self._store.add_exchange_gaps(self.topic, gaps)
