"""The embedded store: one :class:`CandleRing` per topic, in this process."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.series import merge_gaps
from marketcast.domain.topics import Topic
from marketcast.store.interface import TopicInfo
from marketcast.store.ring import CandleRing


class MemoryStore:
    """Fast and volatile: history is rebuilt from the exchange after a restart."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rings: dict[Topic, CandleRing] = {}
        self._updated_at: dict[Topic, int] = {}
        self._gaps: dict[Topic, list[TimeRange]] = {}
        # One counter for every topic: a revision is never reused, not even by a topic
        # forgotten and started again, so a body cached for it can never be served wrongly.
        self._counter = itertools.count(1)
        self._revisions: dict[Topic, int] = {}

    def revision(self, topic: Topic) -> int | None:
        return self._revisions.get(topic, 0)

    def _changed(self, topic: Topic, now_ms: int) -> None:
        self._updated_at[topic] = now_ms
        self._revisions[topic] = next(self._counter)

    def _ring(self, topic: Topic) -> CandleRing:
        ring = self._rings.get(topic)
        if ring is None:
            ring = self._rings[topic] = CandleRing(self.capacity)
        return ring

    async def upsert(self, topic: Topic, candle: Candle, *, now_ms: int) -> Candle | None:
        stored = self._ring(topic).upsert(candle)
        if stored is not None:
            self._changed(topic, now_ms)
        return stored

    async def upsert_many(
        self, topic: Topic, candles: Sequence[Candle], *, now_ms: int
    ) -> list[Candle]:
        ring = self._ring(topic)
        changed = [stored for c in candles if (stored := ring.upsert(c)) is not None]
        if changed:
            self._changed(topic, now_ms)
        return changed

    async def replace(self, topic: Topic, candles: Sequence[Candle], *, now_ms: int) -> None:
        self._ring(topic).replace(candles)
        self._changed(topic, now_ms)

    async def last(self, topic: Topic) -> Candle | None:
        ring = self._rings.get(topic)
        return ring.last() if ring is not None else None

    async def read(
        self,
        topic: Topic,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
    ) -> list[Candle]:
        ring = self._rings.get(topic)
        if ring is None or limit <= 0:
            return []
        if since is not None:
            start = ring.index_of(since)
            stop = len(ring) if before is None else ring.index_of(before)
            return ring.slice(start, min(stop, start + limit))
        stop = len(ring) if before is None else ring.index_of(before)
        return ring.slice(stop - limit, stop)

    async def open_times(self, topic: Topic) -> list[int]:
        ring = self._rings.get(topic)
        return ring.open_times() if ring is not None else []

    async def add_exchange_gaps(self, topic: Topic, gaps: Iterable[TimeRange]) -> None:
        known = self._gaps.setdefault(topic, [])
        known[:] = merge_gaps([*known, *gaps], topic.interval)

    async def info(self, topic: Topic) -> TopicInfo:
        ring = self._rings.get(topic)
        return TopicInfo(
            topic=topic,
            count=len(ring) if ring else 0,
            first=ring.first() if ring else None,
            last=ring.last() if ring else None,
            updated_at_ms=self._updated_at.get(topic),
            exchange_gaps=tuple(self._gaps.get(topic, ())),
        )

    async def topics(self) -> list[Topic]:
        return list(self._rings)

    async def forget(self, topic: Topic) -> None:
        self._rings.pop(topic, None)
        self._updated_at.pop(topic, None)
        self._gaps.pop(topic, None)
        self._revisions[topic] = next(self._counter)

    async def aclose(self) -> None:
        self._rings.clear()
        for topic in self._revisions:
            self._revisions[topic] = next(self._counter)
