"""Indicator and signal caches per topic, kept current from the bus.

A topic is loaded on first use: the cache subscribes to the bus, reads the store's window,
hands its closed candles to a :class:`~marketcast.hub.indicators.topic.TopicIndicators`
oldest first, then applies what the bus delivered meanwhile; from then on each published
candle is applied as it comes. A candle that corrects one already consumed makes the
cache rebuild the topic from the store, because incremental state cannot take a candle
back.

A topic nobody has read for ``idle_s`` and nobody watches is dropped, which also
releases its bus subscription (the hub's idle check for on-demand topics counts it).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.errors import NotReady, StoreUnavailable
from marketcast.hub.candles.bus import Bus, Published
from marketcast.hub.indicators.topic import Applied, TopicIndicators
from marketcast.hub.tasks import TaskOwner
from marketcast.store.interface import CandleStore

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)

Listener = Callable[[TopicIndicators, Candle], None]


@dataclass(eq=False, slots=True)
class _Entry:
    state: TopicIndicators
    last_used: float
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Bus events that arrived while the store was being read; ``None`` once loaded.
    held: list[Candle] | None = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    unsubscribe: Callable[[], None] = lambda: None
    # History was replaced while a load was reading: that read may predate it.
    stale: bool = False


class IndicatorCache:
    """Per-topic indicator state fed by the bus. ``async with`` it, or call :meth:`aclose`."""

    def __init__(
        self,
        store: CandleStore,
        bus: Bus,
        *,
        idle_s: float = 300.0,
        load_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_timeout_s = load_timeout_s
        self._store = store
        self._bus = bus
        self._idle_s = idle_s
        self._clock = clock
        self._entries: dict[Topic, _Entry] = {}
        self._owner = TaskOwner()

    async def __aenter__(self) -> IndicatorCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for entry in self._entries.values():
            entry.unsubscribe()
        self._entries.clear()
        await self._owner.aclose()

    async def topic(self, topic: Topic) -> TopicIndicators:
        """The topic's state, loaded and current; the caller must not await while using it."""
        entry = self._entries.get(topic)
        if entry is None:
            entry = _Entry(TopicIndicators(topic, self._store.capacity), self._clock())
            self._entries[topic] = entry
            subscriber = functools.partial(self._on_published, entry)
            self._bus.subscribe(topic, subscriber)
            entry.unsubscribe = functools.partial(self._bus.unsubscribe, topic, subscriber)
            self._owner.start(self._load(entry), name=f"indicators-load {topic}")
        entry.last_used = self._clock()
        try:
            async with asyncio.timeout(self._load_timeout_s):
                await entry.ready.wait()
        except TimeoutError:
            raise NotReady(f"indicators of {topic} are still loading; retry") from None
        return entry.state

    def watch(self, topic: Topic, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after each change of a loaded topic; return the unwatch."""
        entry = self._entries[topic]
        entry.listeners.append(listener)

        def unwatch() -> None:
            if listener in entry.listeners:
                entry.listeners.remove(listener)
            entry.last_used = self._clock()

        return unwatch

    @property
    def topics(self) -> list[Topic]:
        return list(self._entries)

    def invalidate(self, topic: Topic) -> None:
        """Rebuild ``topic`` from the store: for history replaced without publishing it."""
        entry = self._entries.get(topic)
        if entry is None:
            return
        if entry.held is None:
            self._rebuild(entry)
        else:
            entry.stale = True  # a load is reading now; read again once it is done

    async def _load(self, entry: _Entry) -> None:
        topic = entry.state.topic
        candles = await self._read(topic)
        while entry.stale:
            entry.stale = False
            candles = await self._read(topic)
        held, entry.held = entry.held or [], None
        entry.state.load(candles)
        for candle in held:
            self._offer(entry, candle)
        if entry.held is None:
            entry.ready.set()
            if entry.state.candles:
                self._notify(entry, entry.state.forming or entry.state.candles[-1])

    async def _read(self, topic: Topic) -> list[Candle]:
        """The store's window of ``topic``; a store outage is waited out, not fatal."""
        attempt = 0
        while True:
            try:
                return await self._store.read(topic, limit=self._store.capacity)
            except Exception as error:
                delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                # An outage is logged once by the store itself; anything else here.
                level = logging.DEBUG if isinstance(error, StoreUnavailable) else logging.WARNING
                log.log(
                    level,
                    "indicators of %s: store read failed (%s); retry in %.1fs",
                    topic,
                    error,
                    delay,
                )
                attempt += 1
                await asyncio.sleep(delay)

    def _on_published(self, entry: _Entry, event: Published) -> None:
        if entry.held is None and self._is_idle(entry):
            self._drop(entry)
        else:
            self._offer(entry, event.candle)

    def _offer(self, entry: _Entry, candle: Candle) -> None:
        """Apply ``candle``, or hold it while the topic is (re)loading from the store."""
        if entry.held is not None:
            entry.held.append(candle)
        else:
            self._apply(entry, candle)

    def _apply(self, entry: _Entry, candle: Candle) -> None:
        outcome = entry.state.apply(candle)
        if outcome is Applied.STALE:
            log.info(
                "candle %s of %s changed after use; rebuilding", candle.time, entry.state.topic
            )
            self._rebuild(entry)
        elif outcome is not Applied.IGNORED:
            self._notify(entry, candle)

    def _rebuild(self, entry: _Entry) -> None:
        entry.held = []
        entry.ready.clear()
        self._owner.start(self._load(entry), name=f"indicators-rebuild {entry.state.topic}")

    def _notify(self, entry: _Entry, candle: Candle) -> None:
        for listener in tuple(entry.listeners):
            try:
                listener(entry.state, candle)
            except Exception:
                log.exception("indicator listener failed", extra={"topic": str(entry.state.topic)})

    def _is_idle(self, entry: _Entry) -> bool:
        return not entry.listeners and self._clock() - entry.last_used > self._idle_s

    def _drop(self, entry: _Entry) -> None:
        topic = entry.state.topic
        if self._entries.get(topic) is entry:
            del self._entries[topic]
        entry.unsubscribe()
