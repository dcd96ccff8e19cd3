"""Indicator and signal caches per topic, kept current from the bus.

A topic is loaded on first use: the cache subscribes to the bus, reads the store's window,
consumes its closed candles oldest first, then applies what the bus delivered meanwhile.
From then on each published candle is applied as it comes (see :meth:`TopicIndicators.apply`):

- a closed candle newer than the last one consumed is pushed into every indicator, O(1)
  each. Gap fills and resyncs publish their closed candles in open-time order before the
  live one, so they are consumed in series order like any other;
- a forming candle is kept aside: values that include it are computed on demand with
  :meth:`~marketcast.domain.indicators.Incremental.peek`, never stored;
- a closed candle at or before the last one consumed is a replay when it equals what was
  consumed (ignored), and a correction otherwise (a finalize that changed a closed
  candle, or a topic released and bootstrapped again): the topic is then rebuilt from the
  store, because incremental state cannot take a candle back.

Signals are recomputed from the closed candles at most once per closed candle, when first
asked for. A topic nobody has read for ``idle_s`` and nobody watches is dropped, which
also releases its bus subscription (the hub's idle check for on-demand topics counts it).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from marketcast.domain.candles import Candle
from marketcast.domain.indicators import Incremental, IndicatorSpec, Value, build
from marketcast.domain.signals import Signals, compute_signals
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded, NotReady
from marketcast.hub.bus import Bus, Published
from marketcast.hub.tasks import TaskOwner
from marketcast.store.base import CandleStore

log = logging.getLogger(__name__)

MAX_TRACKED = 32
"""Indicators kept per topic; the least recently asked for is dropped beyond this."""

_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)

Listener = Callable[["TopicIndicators", Candle], None]


class Applied(enum.Enum):
    CONSUMED = "consumed"  # a closed candle extended the series
    FORMING = "forming"  # the forming candle changed
    IGNORED = "ignored"  # a replay, or older than what is held
    STALE = "stale"  # a consumed candle changed: rebuild from the store


@dataclass(slots=True)
class _Track:
    running: Incremental
    values: deque[Value]


class TopicIndicators:
    """One topic's closed candles and tracked indicators, aligned (pure, no I/O)."""

    def __init__(self, topic: Topic, capacity: int) -> None:
        self.topic = topic
        self.capacity = capacity
        self.candles: deque[Candle] = deque(maxlen=capacity)
        self.forming: Candle | None = None
        self._tracks: OrderedDict[IndicatorSpec, _Track] = OrderedDict()
        # Specs a live watcher needs: never evicted, or watchers with different specs
        # would evict each other's on every update and re-warm over the whole window.
        self._pins: Counter[IndicatorSpec] = Counter()
        self._signals: Signals | None = None
        self._peeked: tuple[Candle | None, dict[IndicatorSpec, Value]] = (None, {})

    def load(self, candles: Iterable[Candle]) -> None:
        """Start over from ``candles`` (oldest first), keeping the tracked indicators."""
        specs = list(self._tracks)
        self.candles.clear()
        self.forming = None
        self._tracks.clear()
        self._signals = None
        self._peeked = (None, {})
        for candle in candles:
            self.apply(candle)
        self.track(specs)

    def apply(self, candle: Candle) -> Applied:
        last = self.candles[-1] if self.candles else None
        if last is not None and candle.open_time <= last.open_time:
            if not candle.closed or self._held(candle):
                return Applied.IGNORED
            return Applied.STALE
        if not candle.closed:
            if self.forming is not None and candle.open_time < self.forming.open_time:
                return Applied.IGNORED
            self.forming = candle
            return Applied.FORMING
        self.candles.append(candle)
        for track in self._tracks.values():
            track.values.append(track.running.push(candle))
        if self.forming is not None and self.forming.open_time <= candle.open_time:
            self.forming = None
        self._signals = None
        self._peeked = (None, {})
        return Applied.CONSUMED

    def _held(self, candle: Candle) -> bool:
        for held in reversed(self.candles):
            if held.open_time <= candle.open_time:
                return held == candle
        return True  # older than the window: nothing of it is left to correct

    def track(self, specs: Iterable[IndicatorSpec]) -> None:
        """Make sure ``specs`` are computed; a new one warms up over the candles held."""
        for spec in specs:
            if spec in self._tracks:
                self._tracks.move_to_end(spec)
                continue
            if len(self._tracks) >= MAX_TRACKED and not self._evict_one():
                raise CapacityExceeded(
                    f"{self.topic} already computes {MAX_TRACKED} watched indicators; "
                    "unsubscribe some or reuse the same names"
                )
            running = build(spec, self.topic.interval)
            values = deque((running.push(c) for c in self.candles), maxlen=self.capacity)
            self._tracks[spec] = _Track(running, values)

    def _evict_one(self) -> bool:
        """Drop the least recently used spec that no watcher needs; ``False`` if none."""
        for spec in self._tracks:
            if not self._pins[spec]:
                del self._tracks[spec]
                return True
        return False

    def pin(self, specs: Sequence[IndicatorSpec]) -> None:
        """Keep ``specs`` computed while a watcher needs them (see :meth:`unpin`)."""
        self.track(specs)
        self._pins.update(specs)

    def unpin(self, specs: Sequence[IndicatorSpec]) -> None:
        self._pins.subtract(specs)

    def series(self, spec: IndicatorSpec, limit: int) -> list[tuple[int, Value]]:
        """``(open time ms, value)`` of the newest ``limit`` candles, the forming one last."""
        self.track([spec])
        track = self._tracks[spec]
        closed = limit - 1 if self.forming is not None else limit
        start = max(0, len(self.candles) - closed)
        newest = itertools.islice(zip(self.candles, track.values, strict=True), start, None)
        points = [(candle.open_time, value) for candle, value in newest]
        if self.forming is not None:
            points.append((self.forming.open_time, track.running.peek(self.forming)))
        return points[-limit:]

    def values_at(
        self, candle: Candle, specs: Sequence[IndicatorSpec]
    ) -> dict[IndicatorSpec, Value]:
        """Each indicator's value at ``candle``: the newest closed one, or a forming one."""
        self.track(specs)
        if candle.closed:
            if not self.candles or self.candles[-1].open_time != candle.open_time:
                raise LookupError(f"{candle.time} is not the newest closed candle of {self.topic}")
            return {s: self._tracks[s].values[-1] for s in specs}
        if self._peeked[0] is not candle:
            self._peeked = (candle, {})
        # Every watcher of a topic asks after the same update: peek once per indicator.
        memo = self._peeked[1]
        for spec in specs:
            if spec not in memo:
                memo[spec] = self._tracks[spec].running.peek(candle)
        return {s: memo[s] for s in specs}

    def signals(self) -> Signals:
        """The SmartTrade read of the closed candles, computed once per closed candle."""
        if self._signals is None:
            self._signals = compute_signals(list(self.candles))
        return self._signals


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
            entry.unsubscribe = self._bus.subscribe(topic, lambda e: self._on_published(entry, e))
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
                log.warning(
                    "indicators of %s: store read failed (%s); retry in %.1fs", topic, error, delay
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
