"""SmartTrade signals: shape, determinism, and that they follow the simulated trend."""

from __future__ import annotations

import itertools

import pytest

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.signals import MIN_CANDLES, NotEnoughData, compute_signals
from marketcast.errors import MarketcastError
from marketcast.exchanges.sim import GroundTruth, Tape

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
H4 = Interval.parse("4h")
DRIFT = 0.08  # log-price per day: a steady, plainly visible trend


def trending(seed: int, drift: float, count: int = 100, symbol: str = "BTCUSDT") -> list[Candle]:
    """``count`` closed 4h candles of a tape whose ``symbol`` drifts by ``drift`` a day."""
    truth = GroundTruth(Tape(seed, [symbol], START_MS, trends={symbol: drift}))
    first = START_MS - (count + 1) * H4.nominal_ms
    return truth.klines(symbol, H4, first, START_MS - H4.nominal_ms, START_MS)[-count:]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_signals_follow_the_trend_of_the_tape(seed: int, symbol: str) -> None:
    up = compute_signals(trending(seed, DRIFT, symbol=symbol))
    down = compute_signals(trending(seed, -DRIFT, symbol=symbol))
    assert (up.structure, up.trend) == ("uptrend", "up")
    assert (down.structure, down.trend) == ("downtrend", "down")
    assert up.ema20 is not None
    assert up.ema50 is not None
    assert up.ema20 > up.ema50
    assert down.ema20 is not None
    assert down.ema50 is not None
    assert down.ema20 < down.ema50
    assert up.regime != "ranging"
    assert min(up.confidence, down.confidence) > 0.7


def test_the_same_seed_reads_differently_when_only_the_trend_changes() -> None:
    # Seed 56 is one whose trendless 4h tape happens to read flat (most read a mild drift).
    flat, up = compute_signals(trending(56, 0.0)), compute_signals(trending(56, DRIFT))
    assert (flat.structure, flat.trend) == ("range", "flat")
    assert (up.structure, up.trend) == ("uptrend", "up")
    assert up.confidence > flat.confidence


def test_signals_are_deterministic() -> None:
    candles = trending(3, 0.0)
    assert compute_signals(candles) == compute_signals(list(candles))


@pytest.mark.parametrize("drift", [DRIFT, 0.0, -DRIFT])
def test_pivots_alternate_and_zones_sit_on_their_side_of_the_price(drift: float) -> None:
    candles = trending(2, drift, count=150)
    signals = compute_signals(candles)
    times = {c.time: c for c in candles}
    for pivot in signals.pivots:
        candle = times[pivot.time]
        assert pivot.price == (candle.high if pivot.kind == "high" else candle.low)
    assert all(a.kind != b.kind for a, b in itertools.pairwise(signals.pivots))
    assert [p.time for p in signals.pivots] == sorted(p.time for p in signals.pivots)
    close = candles[-1].close
    for zone in signals.zones:
        assert zone.low <= zone.high
        assert zone.touches >= 1
        assert (zone.high < close) == (zone.kind == "support")
    assert 0.0 <= signals.confidence <= 1.0
    assert signals.regime in {"trending", "ranging", "volatile"}
    assert signals.trend in {"up", "down", "flat"}
    assert signals.reasoning[0].startswith(f"structure {signals.structure}")


def test_twenty_candles_are_enough_and_nineteen_are_not() -> None:
    candles = trending(1, DRIFT, count=MIN_CANDLES)
    signals = compute_signals(candles)
    assert signals.ema20 is not None
    assert signals.ema50 is None  # still warming up: the read says so rather than guess
    with pytest.raises(NotEnoughData) as caught:
        compute_signals(candles[1:])
    assert str(caught.value) == "not enough candles: have 19, need 20"
    assert isinstance(caught.value, MarketcastError)
    assert caught.value.code == "not_enough_data"


def test_a_steady_run_without_pullbacks_still_has_a_structure() -> None:
    base = trending(1, 0.0, count=40)
    ramp = [
        c._replace(open=100.0 + i, high=101.5 + i, low=99.5 + i, close=101.0 + i)
        for i, c in enumerate(base)
    ]
    signals = compute_signals(ramp)
    assert (signals.structure, signals.trend) == ("uptrend", "up")
    assert "halves compared" in signals.reasoning[0]
