"""SmartTrade's market read of a candle series: structure, regime, trend, pivots, zones.

Everything is a deterministic function of the closed candles given, oldest first:

- **pivots**: confirmed swing highs and lows from talipp's ``ZigZag``, with a reversal
  threshold of ``PIVOT_ATR_MULTIPLE`` ATRs (relative to the last close), so a swing counts
  only if price moved back by more than its usual noise. The last, still-extending swing
  is not a pivot yet, nor is the series' first candle (its left side is unknown).
- **structure**: higher high and higher low between the last two pivots of each kind →
  ``uptrend``; lower high and lower low → ``downtrend``; anything else → ``range``.
- **trend**: EMA20 against EMA50 (EMA20's own slope while EMA50 warms up); ``flat`` when
  they are within a tenth of an ATR.
- **regime**: ``volatile`` when the last ATR, as a fraction of the close, exceeds 1.5 times
  its median over the series; otherwise ``trending`` when ADX(14) is at least 25, else ``ranging``.
- **zones**: pivots whose prices lie within half an ATR of each other form a zone;
  zones below the last close are support, above it resistance (the nearest three each).
- **confidence** in 0..1: agreement of structure and trend (0.4), ADX strength (0.3),
  EMA separation in ATRs (0.2) and how much history backs it (0.1).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from talipp.indicators import ADX, ZigZag  # type: ignore[import-untyped]
from talipp.indicators.ZigZag import PivotType  # type: ignore[import-untyped]
from talipp.ohlcv import OHLCV  # type: ignore[import-untyped]

from marketcast.domain.candles import Candle
from marketcast.domain.incremental import compute
from marketcast.domain.indicators import IndicatorSpec, Kind
from marketcast.errors import MarketcastError

MIN_CANDLES: Final = 20
PIVOT_ATR_MULTIPLE: Final = 2.0
ZONE_ATR_MULTIPLE: Final = 0.5
TRENDING_ADX: Final = 25.0
VOLATILE_ATR_RATIO: Final = 1.5
ZONES_PER_SIDE: Final = 3
_PERIOD: Final = 14


class NotEnoughData(MarketcastError):
    """Too few candles for a meaningful read (SmartTrade answers 404)."""

    code = "not_enough_data"

    def __init__(self, have: int, need: int) -> None:
        self.have = have
        self.need = need
        super().__init__(f"not enough candles: have {have}, need {need}")


@dataclass(frozen=True, slots=True)
class Pivot:
    time: int  # open time in seconds, like a candle's ``time``
    price: float
    kind: str  # "high" | "low"


@dataclass(frozen=True, slots=True)
class Zone:
    kind: str  # "support" | "resistance"
    low: float
    high: float
    touches: int
    last_time: int


@dataclass(frozen=True, slots=True)
class Signals:
    structure: str
    regime: str
    confidence: float
    ema20: float | None
    ema50: float | None
    trend: str
    pivots: tuple[Pivot, ...]
    zones: tuple[Zone, ...]
    reasoning: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Measures:
    close: float
    ema20: float | None
    ema50: float | None
    ema20_before: float | None
    atr: float
    atr_ratio: float  # the last ATR% over the series' median ATR%
    adx: float | None


def compute_signals(candles: Sequence[Candle]) -> Signals:
    """The read of ``candles`` (closed, oldest first); :class:`NotEnoughData` below 20."""
    if len(candles) < MIN_CANDLES:
        raise NotEnoughData(len(candles), MIN_CANDLES)
    m = _measure(candles)
    pivots, extreme = find_pivots(candles, PIVOT_ATR_MULTIPLE * m.atr / m.close)
    structure, structure_why = _structure([*pivots, *extreme], candles)
    trend, trend_why = _trend(m)
    regime, regime_why = _regime(m)
    zones = _zones(pivots, m.close, ZONE_ATR_MULTIPLE * m.atr)
    reasoning = [structure_why, trend_why, regime_why, *(_describe(z) for z in zones)]
    return Signals(
        structure=structure,
        regime=regime,
        confidence=_confidence(structure, trend, m, len(candles)),
        ema20=m.ema20,
        ema50=m.ema50,
        trend=trend,
        pivots=tuple(pivots),
        zones=tuple(zones),
        reasoning=tuple(reasoning),
    )


def _last(spec: IndicatorSpec, candles: Sequence[Candle]) -> list[float | None]:
    return [value[0] for value in compute(spec, candles)]


def _measure(candles: Sequence[Candle]) -> _Measures:
    ema20 = _last(IndicatorSpec(Kind.EMA, 20), candles)
    ema50 = _last(IndicatorSpec(Kind.EMA, 50), candles)
    atrs = _last(IndicatorSpec(Kind.ATR, _PERIOD), candles)
    # Relative to the close, so a trend that multiplies the price does not read as volatility.
    relative = [a / c.close for a, c in zip(atrs, candles, strict=True) if a is not None]
    if not relative:  # fewer candles than the ATR needs: the mean range stands in
        relative = [statistics.fmean((c.high - c.low) / c.close for c in candles)]
    return _Measures(
        close=candles[-1].close,
        ema20=ema20[-1],
        ema50=ema50[-1],
        ema20_before=ema20[-6] if len(ema20) >= 6 else None,
        atr=relative[-1] * candles[-1].close,
        atr_ratio=relative[-1] / statistics.median(relative),
        adx=_adx(candles),
    )


def _ohlcv(candle: Candle) -> Any:
    return OHLCV(candle.open, candle.high, candle.low, candle.close, candle.volume, candle.time)


def _adx(candles: Sequence[Candle]) -> float | None:
    adx = ADX(_PERIOD, _PERIOD, [_ohlcv(c) for c in candles])
    last = adx[-1]
    return None if last is None or last.adx is None else float(last.adx)


def find_pivots(candles: Sequence[Candle], sensitivity: float) -> tuple[list[Pivot], list[Pivot]]:
    """Confirmed swing pivots, and the extreme still extending since the last of them.

    A reversal of more than ``sensitivity`` (a fraction of the price) confirms the extreme
    before it. The series' first candle is never a pivot: its left side is unknown.
    """
    zigzag = ZigZag(max(sensitivity, 1e-6), 2, [_ohlcv(c) for c in candles])
    found = [
        Pivot(
            time=int(p.ohlcv.time),
            price=float(p.ohlcv.high if p.type is PivotType.HIGH else p.ohlcv.low),
            kind="high" if p.type is PivotType.HIGH else "low",
        )
        for p in zigzag.output_values
    ]
    found = [p for p in found if p.time != candles[0].time]
    if found and found[-1].time == zigzag.output_values[-1].ohlcv.time:
        return found[:-1], found[-1:]
    return found, []


def _structure(pivots: Sequence[Pivot], candles: Sequence[Candle]) -> tuple[str, str]:
    highs = [p.price for p in pivots if p.kind == "high"][-2:]
    lows = [p.price for p in pivots if p.kind == "low"][-2:]
    if len(highs) < 2 or len(lows) < 2:
        # Too few swings (a steady run has no pullback to confirm one): compare the
        # extremes of the two halves of the series instead.
        half = len(candles) // 2
        early, late = candles[:half], candles[half:]
        highs = [max(c.high for c in early), max(c.high for c in late)]
        lows = [min(c.low for c in early), min(c.low for c in late)]
        prefix = f"only {len(pivots)} swing pivots, halves compared: "
    else:
        prefix = ""
    (h1, h2), (l1, l2) = highs, lows
    hh, hl = h2 > h1, l2 > l1
    what = prefix + (
        f"{'higher' if hh else 'lower'} high {h2:g} vs {h1:g}, "
        f"{'higher' if hl else 'lower'} low {l2:g} vs {l1:g}"
    )
    if hh and hl:
        return "uptrend", f"structure uptrend: {what}"
    if not hh and not hl:
        return "downtrend", f"structure downtrend: {what}"
    return "range", f"structure range: {what}"


def _trend(m: _Measures) -> tuple[str, str]:
    if m.ema20 is None:
        return "flat", "trend flat: EMA20 not warmed up"
    if m.ema50 is not None:
        gap, what = m.ema20 - m.ema50, f"EMA20 {m.ema20:.6g} vs EMA50 {m.ema50:.6g}"
    elif m.ema20_before is not None:
        gap, what = m.ema20 - m.ema20_before, f"EMA20 moved {m.ema20 - m.ema20_before:+.6g}"
        what += " over 5 candles (EMA50 warming up)"
    else:
        return "flat", "trend flat: EMA20 just warmed up"
    if abs(gap) < 0.1 * m.atr:
        return "flat", f"trend flat: {what}, within 0.1 ATR"
    trend = "up" if gap > 0 else "down"
    return trend, f"trend {trend}: {what}"


def _regime(m: _Measures) -> tuple[str, str]:
    atr_what = f"ATR14 {m.atr:.6g} is {m.atr_ratio:.2f}x its median (relative to price)"
    if m.atr_ratio > VOLATILE_ATR_RATIO:
        return "volatile", f"regime volatile: {atr_what}"
    if m.adx is None:
        return "ranging", f"regime ranging: ADX14 not warmed up; {atr_what}"
    if m.adx >= TRENDING_ADX:
        return "trending", f"regime trending: ADX14 {m.adx:.1f} >= {TRENDING_ADX:g}"
    return "ranging", f"regime ranging: ADX14 {m.adx:.1f} < {TRENDING_ADX:g}"


def _zones(pivots: Sequence[Pivot], close: float, tolerance: float) -> list[Zone]:
    clusters: list[list[Pivot]] = []
    for pivot in sorted(pivots, key=lambda p: (p.price, p.time)):
        if clusters and pivot.price - clusters[-1][-1].price <= tolerance:
            clusters[-1].append(pivot)
        else:
            clusters.append([pivot])
    zones = [
        Zone(
            kind="support" if max(p.price for p in c) < close else "resistance",
            low=c[0].price,
            high=c[-1].price,
            touches=len(c),
            last_time=max(p.time for p in c),
        )
        for c in clusters
    ]
    supports = [z for z in zones if z.kind == "support"][-ZONES_PER_SIDE:]
    resistances = [z for z in zones if z.kind == "resistance"][:ZONES_PER_SIDE]
    return list(reversed(resistances)) + list(reversed(supports))


def _describe(zone: Zone) -> str:
    return f"{zone.kind} {zone.low:g}-{zone.high:g} ({zone.touches} touches)"


def _confidence(structure: str, trend: str, m: _Measures, count: int) -> float:
    direction = {"uptrend": "up", "downtrend": "down"}.get(structure)
    agreement = 1.0 if direction == trend else 0.4 if direction is None else 0.0
    strength = min((m.adx or 0.0) / 50.0, 1.0)
    separation = 0.0
    if m.ema20 is not None and m.ema50 is not None and m.atr > 0:
        separation = min(abs(m.ema20 - m.ema50) / m.atr, 2.0) / 2.0
    history = min(count / 100.0, 1.0)
    return round(0.4 * agreement + 0.3 * strength + 0.2 * separation + 0.1 * history, 3)
