"""Continuity of a candle series and the plan to restore it.

These functions decide *what* to fetch; the hub does the fetching. Keeping the decision
pure is what lets the gap rules be tested exhaustively in microseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.intervals import Interval


def missing_before(stored_last: Candle, incoming_open: int, interval: Interval) -> TimeRange | None:
    """The range to fetch from REST before storing a candle that opens at ``incoming_open``.

    It starts at the stored tail itself when that is still forming (so it becomes final)
    and otherwise just after it, and it ends one candle before the incoming one. ``None``
    means the incoming candle continues the series directly (or is older than the tail).
    """
    if incoming_open <= stored_last.open_time:
        return None
    tail = stored_last.open_time
    first = interval.next_open(tail) if stored_last.closed else tail
    last = interval.prev_open(incoming_open)
    return TimeRange(first, last) if first <= last else None


def absent_ranges(wanted: TimeRange, present: Iterable[int], interval: Interval) -> list[TimeRange]:
    """Sub-ranges of ``wanted`` with no candle in ``present``: exchange gaps once REST agrees."""
    have = set(present)
    gaps: list[TimeRange] = []
    start: int | None = None
    previous = wanted.first
    for t in interval.open_times(wanted.first, wanted.last):
        if t in have:
            if start is not None:
                gaps.append(TimeRange(start, previous))
                start = None
        elif start is None:
            start = t
        previous = t
    if start is not None:
        gaps.append(TimeRange(start, wanted.last))
    return gaps


def breaks(
    open_times: Sequence[int], interval: Interval, known_gaps: Sequence[TimeRange] = ()
) -> list[TimeRange]:
    """Missing ranges inside a sorted series that are not known exchange gaps.

    An empty result means the series is continuous: a client holding it shows every candle
    the exchange has.
    """
    found: list[TimeRange] = []
    for earlier, later in itertools.pairwise(open_times):
        expected = interval.next_open(earlier)
        if later == expected:
            continue
        if later < expected:
            raise ValueError(f"series not strictly increasing at {earlier} -> {later}")
        hole = TimeRange(expected, interval.prev_open(later))
        if not any(g.first <= hole.first and hole.last <= g.last for g in known_gaps):
            found.append(hole)
    return found


def merge_gaps(gaps: Iterable[TimeRange], interval: Interval) -> list[TimeRange]:
    """Sorted, coalesced gaps: adjacent or overlapping ranges become one."""
    merged: list[TimeRange] = []
    for gap in sorted(gaps, key=lambda g: g.first):
        if merged and gap.first <= interval.next_open(merged[-1].last):
            tail = merged[-1]
            merged[-1] = TimeRange(tail.first, max(tail.last, gap.last))
        else:
            merged.append(gap)
    return merged
