"""Interval arithmetic: alignment, stepping and the calendar intervals."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.intervals import DAY_MS, INTERVAL_CODES, INTERVALS, Interval
from marketcast.errors import InvalidInterval

# 1970 .. 2100 in ms
times = st.integers(min_value=0, max_value=4_102_444_800_000)
intervals = st.sampled_from(INTERVALS)


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def test_all_sixteen_binance_codes_parse_and_are_case_sensitive() -> None:
    expected = "1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M"
    assert " ".join(INTERVAL_CODES) == expected
    assert Interval.parse("1m") != Interval.parse("1M")
    assert Interval.parse("1M").fixed_ms is None
    assert Interval.parse("1m").fixed_ms == 60_000


@pytest.mark.parametrize("bad", ["1D", "2m", "", "1H", "m1", "60"])
def test_invalid_interval_error_lists_the_valid_codes(bad: str) -> None:
    with pytest.raises(InvalidInterval) as caught:
        Interval.parse(bad)
    assert "1s, 1m, 3m" in str(caught.value)
    assert caught.value.valid == INTERVAL_CODES


@given(intervals, times)
def test_floor_contains_the_time(interval: Interval, t: int) -> None:
    start = interval.floor(t)
    assert start <= t < interval.next_open(start)
    assert interval.floor(start) == start


@given(intervals, times)
def test_prev_and_next_are_inverse(interval: Interval, t: int) -> None:
    start = interval.floor(t)
    assert interval.prev_open(interval.next_open(start)) == start
    assert interval.next_open(interval.prev_open(start)) == start
    assert interval.close_time(start) == interval.next_open(start) - 1


@given(intervals, times, st.integers(min_value=0, max_value=500))
def test_steps_between_counts_next_open_steps(interval: Interval, t: int, n: int) -> None:
    start = interval.floor(t)
    end = start
    for _ in range(n):
        end = interval.next_open(end)
    assert interval.steps_between(start, end) == n
    assert len(list(interval.open_times(start, end))) == n + 1


@given(times)
def test_week_opens_monday_midnight_utc(t: int) -> None:
    opened = utc(Interval.parse("1w").floor(t))
    assert (opened.weekday(), opened.hour, opened.minute) == (0, 0, 0)


@given(times)
def test_month_opens_on_the_first_and_follows_the_calendar(t: int) -> None:
    month = Interval.parse("1M")
    opened = utc(month.floor(t))
    assert (opened.day, opened.hour) == (1, 0)
    following = utc(month.next_open(month.floor(t)))
    assert following.day == 1
    assert (following.year * 12 + following.month) - (opened.year * 12 + opened.month) == 1


def test_month_lengths_including_leap_february() -> None:
    month = Interval.parse("1M")
    feb_2024 = int(dt.datetime(2024, 2, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert month.next_open(feb_2024) - feb_2024 == 29 * DAY_MS
    feb_2023 = int(dt.datetime(2023, 2, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert month.next_open(feb_2023) - feb_2023 == 28 * DAY_MS
    dec = int(dt.datetime(2023, 12, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert utc(month.next_open(dec)) == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
