"""Older-history pages: aligned the same for every request, contiguous, and what an answer
covers (exchange gaps inside it, whether it starts at the first candle)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.history_pages import (
    PAGE_CANDLES,
    answer,
    next_page,
    page_of,
    previous_page,
)
from marketcast.domain.intervals import INTERVAL_CODES, Interval

M1 = Interval.parse("1m")
MINUTE = 60_000


def candle(open_ms: int) -> Candle:
    return Candle(open_ms, 1.0, 2.0, 0.5, 1.5, 10.0, 15.0, 3, closed=True)


def test_a_minute_page_is_a_thousand_minutes_from_the_epoch() -> None:
    assert page_of(M1, 0) == TimeRange(0, 999 * MINUTE)
    assert page_of(M1, 1_000 * MINUTE + 59_999) == TimeRange(1_000 * MINUTE, 1_999 * MINUTE)
    # Before the epoch too: floor division, not truncation.
    assert page_of(M1, -1) == TimeRange(-1_000 * MINUTE, -MINUTE)


def test_week_pages_start_on_a_monday_and_month_pages_on_a_first() -> None:
    week = Interval.parse("1w")
    page = page_of(week, 1_780_272_000_000)
    assert week.floor(page.first) == page.first  # a Monday 00:00, as weekly candles open
    month = Interval.parse("1M")
    assert page_of(month, 1_780_272_000_000) == TimeRange(0, month.shifted(0, 999))


@given(
    st.sampled_from(INTERVAL_CODES),
    st.integers(-(2**41), 2**42),
)
def test_pages_tile_the_time_line(code: str, t_ms: int) -> None:
    interval = Interval.parse(code)
    page = page_of(interval, t_ms)
    assert page.first <= interval.floor(t_ms) <= page.last
    assert interval.steps_between(page.first, page.last) == PAGE_CANDLES - 1
    assert page_of(interval, page.first) == page_of(interval, page.last) == page
    assert next_page(interval, page).first == interval.next_open(page.last)
    assert previous_page(interval, page).last == interval.prev_open(page.first)


def test_an_answer_reports_the_exchange_gaps_inside_its_span() -> None:
    held = [candle(t * MINUTE) for t in (10, 11, 15, 16)]
    older = answer(held, TimeRange(9 * MINUTE, 16 * MINUTE), first_open=0, interval=M1)
    assert older.gaps == [TimeRange(9 * MINUTE, 9 * MINUTE), TimeRange(12 * MINUTE, 14 * MINUTE)]
    assert not older.reached_first


def test_an_answer_from_the_first_candle_says_so() -> None:
    held = [candle(t * MINUTE) for t in (5, 6)]
    older = answer(held, TimeRange(5 * MINUTE, 6 * MINUTE), first_open=5 * MINUTE, interval=M1)
    assert (older.gaps, older.reached_first) == ([], True)
    assert answer([], None, 0, M1).candles == []
