"""When a kline stream pushes: forming updates on a real-time cadence, finals at close.

Binance pushes each kline stream's forming candle every 2 s (1 s for ``1s``) and sends
the candle's last update with ``x: true`` once it closes. A :class:`Cursor` follows one
stream on one connection; :func:`plan_push` says, for a virtual and a real time, which
finals are due (each close exactly once, in order, even when several candles closed
since the last tick at high clock speed) and whether the forming candle is due.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from marketcast.domain.intervals import Interval


@dataclass(frozen=True, slots=True)
class Cursor:
    """``open_time``: the candle being followed (its final not yet sent);
    ``next_push_s``: real time of the next forming update."""

    open_time: int
    next_push_s: float


@dataclass(frozen=True, slots=True)
class PushPlan:
    """Open times whose final is due (oldest first), and the forming candle, if due."""

    finals: tuple[int, ...]
    forming: int | None
    cursor: Cursor


def start_cursor(interval: Interval, now_ms: int, real_s: float, phase_s: float = 0.0) -> Cursor:
    """A new subscription: follow the current candle and push it at once, or ``phase_s``
    later (a stream's own phase within the cadence, so streams do not push in step)."""
    return Cursor(interval.floor(now_ms), real_s + phase_s)


def stream_phase(name: str, cadence_s: float) -> float:
    """A stable phase in ``[0, cadence_s)`` for the stream called ``name``."""
    return zlib.crc32(name.encode()) / 2**32 * cadence_s


def plan_push(
    cursor: Cursor,
    interval: Interval,
    now: tuple[int, float],
    cadence_s: float,
    max_finals: int,
) -> PushPlan:
    """What one stream sends at ``now`` = (virtual ms, real s).

    After a final the new candle's first update follows at once, so a client always
    learns about the next candle without waiting a full cadence.
    """
    now_ms, real_s = now
    current = interval.floor(now_ms)
    finals = _closed_since(cursor.open_time, current, interval, max_finals)
    scheduled = real_s >= cursor.next_push_s
    next_push = (
        _next_on_phase(cursor.next_push_s, real_s, cadence_s) if scheduled else cursor.next_push_s
    )
    due = bool(finals) or scheduled
    return PushPlan(finals, current if due else None, Cursor(current, next_push))


def _next_on_phase(scheduled_s: float, real_s: float, cadence_s: float) -> float:
    """The stream's next push time after ``real_s``, on its own phase.

    Counted from when the push was scheduled, not from the tick that sent it: anchored to
    ticks, streams that once shared a tick would share every later one, and within a
    minute every stream of a connection pushed in the same tick.
    """
    return scheduled_s + cadence_s * (math.floor((real_s - scheduled_s) / cadence_s) + 1)


def cadence_for(interval: Interval, push_interval_s: float) -> float:
    """Binance pushes ``1s`` streams twice as often as the others."""
    return push_interval_s / 2 if interval.code == "1s" else push_interval_s


def _closed_since(first: int, current: int, interval: Interval, limit: int) -> tuple[int, ...]:
    if first >= current:
        return ()
    oldest = current
    for _ in range(limit):
        oldest = interval.prev_open(oldest)
        if oldest <= first:
            break
    return tuple(interval.open_times(max(first, oldest), interval.prev_open(current)))
