"""Candle version rules and the gap plan the hub acts on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.candles import Candle, TimeRange, newer_version
from marketcast.domain.intervals import Interval
from marketcast.domain.series import absent_ranges, breaks, merge_gaps, missing_before

M1 = Interval.parse("1m")
T0 = 1_700_000_040_000  # a minute boundary


def candle(t: int, *, closed: bool = True, trades: int = 10, close: float = 1.0) -> Candle:
    return Candle(t, 1.0, 2.0, 0.5, close, 3.0, 4.0, trades, closed)


def test_closed_beats_forming_and_is_never_replaced_by_forming() -> None:
    forming = candle(T0, closed=False, trades=50)
    final = candle(T0, closed=True, trades=40)
    assert newer_version(forming, final) == final
    assert newer_version(final, forming) is None


def test_more_trades_wins_among_forming_versions() -> None:
    early = candle(T0, closed=False, trades=5, close=1.0)
    later = candle(T0, closed=False, trades=9, close=1.5)
    assert newer_version(early, later) == later
    assert newer_version(later, early) is None


def test_identical_version_changes_nothing() -> None:
    c = candle(T0)
    assert newer_version(c, c._replace()) is None
    assert newer_version(None, c) == c


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), min_size=1, max_size=30))
def test_any_arrival_order_ends_on_the_best_version(versions: list[tuple[bool, int]]) -> None:
    stored: Candle | None = None
    for closed, trades in versions:
        stored = newer_version(stored, candle(T0, closed=closed, trades=trades)) or stored
    assert stored is not None
    if any(closed for closed, _ in versions):
        assert stored.closed
    else:
        assert stored.trades == max(t for _, t in versions)


def test_missing_before_starts_at_a_forming_tail_so_it_gets_finalized() -> None:
    tail = candle(T0, closed=False)
    assert missing_before(tail, T0 + 60_000, M1) == TimeRange(T0, T0)
    assert missing_before(tail, T0 + 3 * 60_000, M1) == TimeRange(T0, T0 + 2 * 60_000)


def test_missing_before_skips_a_closed_tail_and_ignores_old_or_next_candles() -> None:
    tail = candle(T0, closed=True)
    assert missing_before(tail, T0 + 60_000, M1) is None
    assert missing_before(tail, T0, M1) is None
    assert missing_before(tail, T0 - 60_000, M1) is None
    assert missing_before(tail, T0 + 4 * 60_000, M1) == TimeRange(T0 + 60_000, T0 + 180_000)


def test_absent_ranges_groups_consecutive_missing_open_times() -> None:
    wanted = TimeRange(T0, T0 + 9 * 60_000)
    present = [T0 + i * 60_000 for i in (0, 1, 4, 5, 9)]
    assert absent_ranges(wanted, present, M1) == [
        TimeRange(T0 + 2 * 60_000, T0 + 3 * 60_000),
        TimeRange(T0 + 6 * 60_000, T0 + 8 * 60_000),
    ]
    assert absent_ranges(wanted, [], M1) == [wanted]


def test_breaks_ignores_known_exchange_gaps() -> None:
    times = [T0, T0 + 60_000, T0 + 4 * 60_000, T0 + 5 * 60_000, T0 + 7 * 60_000]
    hole_a = TimeRange(T0 + 2 * 60_000, T0 + 3 * 60_000)
    hole_b = TimeRange(T0 + 6 * 60_000, T0 + 6 * 60_000)
    assert breaks(times, M1) == [hole_a, hole_b]
    assert breaks(times, M1, [hole_a]) == [hole_b]
    assert breaks(times[:2], M1) == []


def test_merge_gaps_coalesces_adjacent_and_overlapping() -> None:
    a = TimeRange(T0, T0 + 60_000)
    b = TimeRange(T0 + 120_000, T0 + 180_000)
    c = TimeRange(T0 + 600_000, T0 + 600_000)
    assert merge_gaps([c, b, a], M1) == [TimeRange(T0, T0 + 180_000), c]
