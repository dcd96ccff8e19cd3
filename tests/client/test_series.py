"""The candle series a follower keeps: the hub's upsert rule, order and bounds."""

from __future__ import annotations

import pytest

from marketcast.client import Candle, CandleSeries
from marketcast.client.series import parse_candle


def candle(time: int, close: float = 1.0, *, closed: bool = True) -> Candle:
    return Candle(time, 1.0, max(close, 1.0), min(close, 1.0), close, 2.0, closed)


def test_a_forming_candle_is_replaced_by_its_newer_versions_and_its_close() -> None:
    series = CandleSeries()
    assert series.upsert(candle(60, 1.0, closed=False))
    assert series.upsert(candle(60, 1.5, closed=False))
    assert series.upsert(candle(60, 1.7))
    assert series.candles() == [candle(60, 1.7)]


def test_a_closed_candle_is_never_replaced_by_a_forming_copy() -> None:
    series = CandleSeries()
    series.upsert(candle(60, 1.7))
    assert not series.upsert(candle(60, 1.5, closed=False))
    assert series.get(60) == candle(60, 1.7)


def test_a_closed_candle_takes_a_corrected_closed_version() -> None:
    series = CandleSeries()
    series.upsert(candle(60, 1.7))
    assert series.upsert(candle(60, 1.8))
    assert series.get(60) == candle(60, 1.8)


def test_a_repeat_changes_nothing() -> None:
    series = CandleSeries()
    assert series.upsert(candle(60))
    assert not series.upsert(candle(60))
    assert len(series) == 1


def test_candles_are_held_oldest_first_whatever_the_arrival_order() -> None:
    series = CandleSeries()
    for time in (120, 180, 60, 240):
        series.upsert(candle(time))
    assert [c.time for c in series] == [60, 120, 180, 240]
    assert series.newest_time == 240
    assert series.newest == candle(240)
    assert 60 in series
    assert 300 not in series


def test_keep_bounds_the_series_to_its_newest_candles() -> None:
    series = CandleSeries(keep=2)
    for time in (60, 120, 180):
        series.upsert(candle(time))
    assert [c.time for c in series.candles()] == [120, 180]
    with pytest.raises(ValueError, match="keep"):
        CandleSeries(keep=0)


def test_clear_drops_everything_and_says_how_much() -> None:
    series = CandleSeries()
    series.upsert(candle(60))
    series.upsert(candle(120))
    assert series.clear() == 2
    assert series.newest_time is None
    assert series.newest is None


def test_a_native_row_is_parsed_with_its_open_time_in_seconds() -> None:
    row = {
        "time": 1714572000,
        "open": 60110.5,
        "high": 60131,
        "low": 60102.24,
        "close": 60123.42,
        "volume": 12.48213,
        "closed": False,
    }
    assert parse_candle(row) == Candle(
        1714572000, 60110.5, 60131.0, 60102.24, 60123.42, 12.48213, closed=False
    )
