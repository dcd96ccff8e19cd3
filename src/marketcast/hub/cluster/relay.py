"""Feeding a node's bus from the shared store's change feed (scale-out over Redis).

With a shared store, whichever node holds the ingest lease writes candles; every node,
that one included, learns of them here: the store appends each change to a Redis stream
in the same atomic step as the write, with a per-topic sequence number. The relay
republishes them on the local bus, so clients on any node see the same series.

Healing: a sequence jump (entries trimmed or lost), a ``reset`` entry (a topic was
rebuilt) or a Redis outage makes the relay re-read the affected topics from the store
from the last candle it relayed and publish them again. Clients apply candles by
upsert on time, so a repeat is harmless and nothing is missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.errors import MarketcastError
from marketcast.hub.candles.bus import Bus
from marketcast.store.interface import CandleStore

log = logging.getLogger(__name__)

_RETRY_S = (0.2, 0.5, 1.0, 2.0)


class Change(Protocol):
    @property
    def stream_id(self) -> str: ...
    @property
    def topic(self) -> Topic: ...
    @property
    def seq(self) -> int: ...
    @property
    def candle(self) -> Candle | None: ...
    @property
    def reset(self) -> bool: ...


class ChangeFeedStore(CandleStore, Protocol):
    async def last_change_id(self) -> str: ...
    async def read_changes(
        self, after_id: str, *, block_ms: int, count: int
    ) -> Sequence[Change]: ...


class ChangeRelay:
    def __init__(self, store: ChangeFeedStore, bus: Bus) -> None:
        self._store = store
        self._bus = bus
        self._seqs: dict[Topic, int] = {}
        self._last_open: dict[Topic, int] = {}
        self._unhealed: set[Topic] = set()  # heals that failed: retried every round
        self.healed = 0
        self.connected = False

    async def run(self) -> None:
        after = await self._retrying(self._store.last_change_id)
        self.connected = True
        failures = 0
        while True:
            try:
                changes = await self._store.read_changes(after, block_ms=1000, count=1000)
            except MarketcastError as error:  # Redis down: keep trying, heal afterwards
                self.connected = False
                delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                failures += 1
                # The store logs the outage once; this notes it only at debug level.
                log.debug("change feed unavailable, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                continue
            if failures:
                failures = 0
                self.connected = True
                after = await self._resume_point(after)
                await self._heal(list(self._last_open), reason="store reconnected")
            elif self._unhealed:
                await self._heal(list(self._unhealed), reason="earlier heal failed")
            for change in changes:
                after = change.stream_id
                await self._apply(change)

    async def _apply(self, change: Change) -> None:
        topic = change.topic
        expected = self._seqs.get(topic, change.seq - 1) + 1
        self._seqs[topic] = change.seq
        if change.reset or change.seq != expected:
            await self._heal([topic], reason="reset" if change.reset else "sequence jump")
        elif change.candle is not None:
            self._publish(topic, change.candle)

    async def _resume_point(self, after: str) -> str:
        """Where to read on from after an outage.

        A Redis restarted without persistence starts a new stream whose ids come from its
        host's clock; if that clock is behind, reading after the old id would wait for
        ever. Then start the new stream from its beginning (the heal covers the rest).
        """
        try:
            latest = await self._store.last_change_id()
        except MarketcastError:
            return after
        return "0-0" if _stream_id(latest) < _stream_id(after) else after

    def _publish(self, topic: Topic, candle: Candle) -> None:
        self._last_open[topic] = max(self._last_open.get(topic, 0), candle.open_time)
        self._bus.publish(topic, candle)

    async def _heal(self, topics: Iterable[Topic], *, reason: str) -> None:
        for topic in topics:
            since = self._last_open.get(topic)
            try:
                if since is None:
                    candles = await self._store.read(topic, limit=2)
                else:
                    candles = await self._store.read(topic, limit=self._store.capacity, since=since)
            except MarketcastError as error:
                log.warning("could not heal %s (%s): %s", topic, reason, error)
                self._unhealed.add(topic)
                continue
            self._unhealed.discard(topic)
            self.healed += 1
            log.info("healing %s after %s: %d candles", topic, reason, len(candles))
            for candle in candles:
                self._publish(topic, candle)

    @staticmethod
    async def _retrying(call: _Call) -> str:
        attempt = 0
        while True:
            try:
                return await call()
            except MarketcastError as error:
                delay = _RETRY_S[min(attempt, len(_RETRY_S) - 1)]
                attempt += 1
                log.debug("change feed unavailable, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)


def _stream_id(text: str) -> tuple[int, int]:
    millis, _, seq = text.partition("-")
    return int(millis), int(seq or 0)


class _Call(Protocol):
    async def __call__(self) -> str: ...
