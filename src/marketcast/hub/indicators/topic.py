"""One topic's closed candles and tracked indicators, aligned (pure, no I/O).

Each candle handed to :meth:`TopicIndicators.apply` is one of:

- a closed candle newer than the last one consumed: pushed into every indicator, O(1)
  each. Gap fills and resyncs publish their closed candles in open-time order before the
  live one, so they are consumed in series order like any other;
- a forming candle: kept aside; values that include it are computed on demand with
  :meth:`~marketcast.domain.indicators.Incremental.peek`, never stored;
- a closed candle at or before the last one consumed: a replay when it equals what was
  consumed (ignored), and a correction otherwise (a finalize that changed a closed
  candle, or a topic released and bootstrapped again), which the owner answers by
  loading the topic again.

Signals are recomputed from the closed candles at most once per closed candle, when first
asked for.
"""

from __future__ import annotations

import enum
import itertools
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from marketcast.domain.candles import Candle
from marketcast.domain.incremental import Incremental, build
from marketcast.domain.indicators import IndicatorSpec, Value
from marketcast.domain.signals import Signals, compute_signals
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded

MAX_TRACKED = 32
"""Indicators kept per topic; the least recently asked for is dropped beyond this."""


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
