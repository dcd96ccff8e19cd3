"""Indicator names, and values against TA-Lib on the simulator's series."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import talib
from numpy.typing import NDArray

from marketcast.domain.candles import Candle
from marketcast.domain.incremental import build, compute
from marketcast.domain.indicators import (
    MAX_NAMES,
    IndicatorSpec,
    InvalidIndicator,
    Kind,
    Value,
    parse_indicator,
    parse_indicators,
)
from marketcast.domain.intervals import DAY_MS, Interval
from marketcast.errors import InvalidRequest
from marketcast.exchanges.sim import GroundTruth, Tape

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
M1 = Interval.parse("1m")
H1 = Interval.parse("1h")
REL = 1e-9


def sim_candles(
    interval: Interval, count: int, symbol: str = "BTCUSDT", seed: int = 5
) -> list[Candle]:
    """``count`` closed candles of the simulator's ground truth ending before the start."""
    truth = GroundTruth(Tape(seed, [symbol], START_MS))
    first = START_MS - count * interval.nominal_ms
    return truth.klines(symbol, interval, first, START_MS - interval.nominal_ms, START_MS)


CANDLES = sim_candles(M1, 1200)  # long enough for talipp's inputs to be trimmed


def column(values: Sequence[Value], field: int = 0) -> NDArray[np.float64]:
    return np.array([np.nan if v[field] is None else v[field] for v in values], dtype=float)


def arrays(candles: Sequence[Candle]) -> tuple[NDArray[np.float64], ...]:
    return tuple(np.array([getattr(c, f) for c in candles]) for f in ("high", "low", "close"))


def assert_matches(
    ours: NDArray[np.float64], reference: NDArray[np.float64], scale: float | None = None
) -> None:
    """Equal to ``REL`` relative (to ``scale`` when the value is a difference of prices)
    from the first index where both are defined; ours is defined from there on too."""
    assert np.argmax(~np.isnan(ours)) <= np.argmax(~np.isnan(reference))
    assert not np.isnan(ours[np.argmax(~np.isnan(reference)) :]).any()
    both = ~np.isnan(ours) & ~np.isnan(reference)
    assert both.sum() > len(ours) // 2
    denominator = np.abs(reference[both]) if scale is None else scale
    worst = float(np.max(np.abs(ours[both] - reference[both]) / denominator))
    assert worst <= REL, f"max relative difference {worst:.3g}"


# -- names ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "spec"),
    [
        ("ema20", IndicatorSpec(Kind.EMA, 20)),
        ("SMA50", IndicatorSpec(Kind.SMA, 50)),
        (" rsi14 ", IndicatorSpec(Kind.RSI, 14)),
        ("bb20", IndicatorSpec(Kind.BB, 20)),
        ("atr14", IndicatorSpec(Kind.ATR, 14)),
        ("macd", IndicatorSpec(Kind.MACD)),
        ("vwap", IndicatorSpec(Kind.VWAP)),
    ],
)
def test_names_parse_to_specs_and_back(given: str, spec: IndicatorSpec) -> None:
    assert parse_indicator(given) == spec
    assert parse_indicator(spec.name) == spec


@pytest.mark.parametrize(
    "given", ["ema", "ema1", "ema1001", "ema020", "macd12", "wma10", "", "ema-5"]
)
def test_bad_names_are_invalid_requests_listing_the_valid_forms(given: str) -> None:
    with pytest.raises(InvalidIndicator) as caught:
        parse_indicator(given)
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.code == "invalid_indicator"
    assert "ema<N>, sma<N>, rsi<N>, bb<N>, atr<N>, macd, vwap" in str(caught.value)
    assert "2..1000" in str(caught.value)


def test_name_lists_keep_order_and_drop_duplicates() -> None:
    specs = parse_indicators("rsi14,ema20,RSI14,,macd")
    assert [s.name for s in specs] == ["rsi14", "ema20", "macd"]
    assert parse_indicators(["bb20", "vwap"]) == (
        IndicatorSpec(Kind.BB, 20),
        IndicatorSpec(Kind.VWAP),
    )


def test_empty_and_oversized_name_lists_are_refused() -> None:
    with pytest.raises(InvalidIndicator, match="no indicator"):
        parse_indicators(" , ")
    with pytest.raises(InvalidIndicator, match="too many"):
        parse_indicators(",".join(f"ema{n}" for n in range(2, MAX_NAMES + 3)))


def test_fields_name_each_part_of_a_value() -> None:
    assert parse_indicator("ema9").fields == ("value",)
    assert parse_indicator("macd").fields == ("macd", "signal", "histogram")
    assert parse_indicator("bb20").fields == ("upper", "middle", "lower")


# -- values against TA-Lib -----------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("ema20", lambda h, lo, c: talib.EMA(c, 20)),
        ("ema200", lambda h, lo, c: talib.EMA(c, 200)),
        ("sma50", lambda h, lo, c: talib.SMA(c, 50)),
        ("rsi14", lambda h, lo, c: talib.RSI(c, 14)),
        ("rsi2", lambda h, lo, c: talib.RSI(c, 2)),
        ("atr14", lambda h, lo, c: talib.ATR(h, lo, c, 14)),
    ],
)
def test_single_valued_indicators_equal_talib(name: str, reference: object) -> None:
    assert callable(reference)
    ours = column(compute(parse_indicator(name), CANDLES, M1))
    expected = reference(*arrays(CANDLES))
    assert_matches(ours, expected)
    assert np.argmax(~np.isnan(ours)) == np.argmax(~np.isnan(expected))  # same warm-up


def test_bollinger_bands_equal_talib() -> None:
    ours = compute(parse_indicator("bb20"), CANDLES, M1)
    _, _, closes = arrays(CANDLES)
    bands = talib.BBANDS(closes, 20, 2.0, 2.0)  # matype SMA by default
    for field, reference in enumerate(bands):
        assert_matches(column(ours, field), reference)


def test_macd_equals_talib_relative_to_the_price() -> None:
    # MACD lines are differences of averages and cross zero, where a relative error is
    # meaningless: they are compared relative to the price they are made of.
    ours = compute(parse_indicator("macd"), CANDLES, M1)
    _, _, closes = arrays(CANDLES)
    lines = talib.MACD(closes, 12, 26, 9)
    for field, reference in enumerate(lines):
        assert_matches(column(ours, field), reference, scale=float(np.mean(closes)))
    signal = column(ours, 1)
    assert np.isnan(signal[32])
    assert not np.isnan(signal[33])


def test_vwap_restarts_each_utc_day_on_intraday_intervals() -> None:
    candles = sim_candles(H1, 24 * 3 + 5)
    ours = column(compute(parse_indicator("vwap"), candles, H1))
    expected = []
    weighted = volume = 0.0
    for i, c in enumerate(candles):
        if i == 0 or c.open_time // DAY_MS != candles[i - 1].open_time // DAY_MS:
            weighted = volume = 0.0
        weighted += (c.high + c.low + c.close) / 3 * c.volume
        volume += c.volume
        expected.append(weighted / volume)
    assert_matches(ours, np.array(expected))
    day_starts = [i for i, c in enumerate(candles) if c.open_time % DAY_MS == 0]
    for i in day_starts:
        c = candles[i]
        assert ours[i] == pytest.approx((c.high + c.low + c.close) / 3, rel=REL)


def test_vwap_spans_the_whole_series_on_daily_intervals() -> None:
    candles = sim_candles(Interval.parse("1d"), 40)
    ours = column(compute(parse_indicator("vwap"), candles, Interval.parse("1d")))
    typical = np.array([(c.high + c.low + c.close) / 3 for c in candles])
    volumes = np.array([c.volume for c in candles])
    assert_matches(ours, np.cumsum(typical * volumes) / np.cumsum(volumes))


# -- incremental use -----------------------------------------------------------------
ALL = parse_indicators("ema20,sma50,rsi14,macd,bb20,atr14,vwap")


@pytest.mark.parametrize("spec", ALL, ids=str)
def test_peek_gives_the_next_value_and_changes_nothing(spec: IndicatorSpec) -> None:
    peeking, plain = build(spec, M1), build(spec, M1)
    for candle in CANDLES[:400]:
        forming = Candle(
            candle.open_time, candle.open, candle.high, candle.low, candle.open, 1.0, 0.0, 1, False
        )
        peeking.peek(forming)
        expected = plain.push(candle)
        assert peeking.peek(candle) == expected
        assert peeking.push(candle) == expected


def test_a_peek_before_warm_up_is_empty() -> None:
    running = build(parse_indicator("atr14"), M1)
    assert running.peek(CANDLES[0]) == (None,)
    assert running.push(CANDLES[0]) == (None,)
    assert build(parse_indicator("macd")).peek(CANDLES[0]) == (None, None, None)
