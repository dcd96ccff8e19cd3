"""Candles older than a topic's buffer, from the exchange, page by page, cached.

:class:`OlderHistory` answers "the newest N closed candles before T" and "the oldest N
from S on, before T" for ranges the buffer no longer holds. It reads fixed pages
(:mod:`marketcast.domain.history_pages`) through a cache (memory, and Redis when the node
uses it), and fetches a page missing there once however many requests want it at the
same moment: the others wait on that one fetch. Fetches spend only the history share of
the market's REST weight and never wait for it; a spent share or an exchange in trouble
is :class:`~marketcast.errors.HistoryBusy`, which clients see as 503 with ``Retry-After``.

The caller says through which open time candles are surely closed (``closed_through``:
the one before the buffer's oldest candle), so nothing forming is ever cached.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Protocol

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.history_pages import (
    PAGE_CANDLES,
    Older,
    Page,
    answer,
    next_page,
    page_of,
    previous_page,
)
from marketcast.domain.topics import Topic
from marketcast.errors import BeforeHistory, HistoryBusy
from marketcast.metrics import HISTORY_BUSY, HISTORY_PAGES
from marketcast.store.pages import PageCache

log = logging.getLogger(__name__)

EXTRA_PAGES: Final = 2
"""Pages walked beyond what the count needs when exchange gaps thin them out: an answer
stops there, short but with its gaps listed, rather than walk an outage page by page."""


class OlderKlines(Protocol):
    """What older history needs from the exchange (``BinanceRest`` fits)."""

    async def older_klines(self, topic: Topic, first: int, through: int) -> list[Candle]: ...

    async def first_open(self, topic: Topic) -> int | None: ...


class OlderHistory:
    """Older candles of one market's topics (see the module)."""

    def __init__(self, exchange: OlderKlines, cache: PageCache, *, market: str) -> None:
        self.market = market
        self._exchange = exchange
        self._cache = cache
        self._fetching: dict[str, asyncio.Task[Page]] = {}
        self._first: dict[Topic, int | None] = {}
        self.fetches = 0  # exchange requests for pages, for /streaming/status and tests

    async def first_open(self, topic: Topic) -> int | None:
        """The exchange's first candle of ``topic``: asked once, then known to this node
        and, through the cache, to the others (kept as a page of no candles, ``through``
        the first open time)."""
        if topic in self._first:
            return self._first[topic]
        key = f"{self.market}:{topic.symbol}:{topic.interval.code}:first"
        cached = await self._cache.get(key)
        if cached is not None:
            first: int | None = cached.through
        else:
            first = await self._exchange.first_open(topic)
            if first is not None:
                await self._cache.put(key, Page((), first))
        self._first[topic] = first
        return first

    async def before(self, topic: Topic, end: int, count: int, closed_through: int) -> Older:
        """The newest ``count`` candles opening before ``end``, oldest first.

        Raises:
            BeforeHistory: ``end`` is at or before the symbol's first candle.
            HistoryBusy: a page had to be fetched and could not be now.
        """
        interval = topic.interval
        first = await self._first_or_refuse(topic, end)
        last = min(interval.floor(end - 1), closed_through)
        if last < first:
            return answer([], None, first, interval)
        found: list[Candle] = []
        page = page_of(interval, last)
        for _ in range(count // PAGE_CANDLES + 1 + EXTRA_PAGES):
            held = await self._page(topic, page, min(page.last, last), closed_through)
            found[:0] = [c for c in held.candles if c.open_time <= last]
            covered_from = max(page.first, first)
            if len(found) >= count or page.first <= first:
                break
            page = previous_page(interval, page)
        candles = found[-count:]
        if len(candles) == count:
            covered_from = candles[0].open_time
        return answer(candles, TimeRange(covered_from, last), first, interval)

    async def since(
        self, topic: Topic, start: int, end: int, count: int, closed_through: int
    ) -> Older:
        """The oldest ``count`` candles opening in ``start .. end - 1``, oldest first;
        a ``start`` before the symbol's first candle begins there.

        Raises:
            BeforeHistory: ``end`` is at or before the symbol's first candle.
            HistoryBusy: a page had to be fetched and could not be now.
        """
        interval = topic.interval
        first = await self._first_or_refuse(topic, end)
        lower = max(start, first)
        start = interval.floor(lower)
        if start < lower:
            start = interval.next_open(start)
        last = min(interval.floor(end - 1), closed_through)
        if last < start:
            return answer([], None, first, interval)
        found: list[Candle] = []
        page = page_of(interval, start)
        for _ in range(count // PAGE_CANDLES + 1 + EXTRA_PAGES):
            held = await self._page(topic, page, min(page.last, last), closed_through)
            found += [c for c in held.candles if start <= c.open_time <= last]
            covered_to = min(page.last, last)
            if len(found) >= count or page.last >= last:
                break
            page = next_page(interval, page)
        candles = found[:count]
        if len(candles) == count:
            covered_to = candles[-1].open_time
        return answer(candles, TimeRange(start, covered_to), first, interval)

    async def _first_or_refuse(self, topic: Topic, end: int) -> int:
        first = await self.first_open(topic)
        if first is None or end <= first:
            raise BeforeHistory(topic.symbol, topic.interval.code, first if first else end)
        return first

    async def _page(self, topic: Topic, page: TimeRange, through: int, closed_through: int) -> Page:
        """``page`` known complete at least ``through``: from the cache, or fetched
        (through as far as candles are closed, so one fetch serves later asks too)."""
        key = f"{self.market}:{topic.symbol}:{topic.interval.code}:{page.first}"
        cached = await self._cache.get(key)
        if cached is not None and cached.through >= through:
            HISTORY_PAGES.labels(self.market, "cache").inc()
            return cached
        task = self._fetching.get(key)
        if task is None or task.done():
            task = asyncio.ensure_future(
                self._fetch(key, topic, page, min(page.last, closed_through))
            )
            self._fetching[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        else:
            HISTORY_PAGES.labels(self.market, "cache").inc()  # the fetch under way serves it
        # Shielded: one impatient client going away must not cancel the others' page.
        held = await asyncio.shield(task)
        if held.through < through:  # fetched for an earlier, shorter ask: extend it
            return await self._page(topic, page, through, closed_through)
        return held

    async def _fetch(self, key: str, topic: Topic, page: TimeRange, through: int) -> Page:
        self.fetches += 1
        try:
            candles = await self._exchange.older_klines(topic, page.first, through)
        except HistoryBusy:
            HISTORY_BUSY.labels(self.market).inc()
            raise
        HISTORY_PAGES.labels(self.market, "exchange").inc()
        held = Page(tuple(candles), through)
        await self._cache.put(key, held)
        return held

    def _forget(self, key: str, done: asyncio.Task[Page]) -> None:
        if self._fetching.get(key) is done:
            del self._fetching[key]
        if not done.cancelled():
            done.exception()  # retrieved: a failed fetch is the waiters' error, not a leak
