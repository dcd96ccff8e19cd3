"""The demo's tape looks like a market: no flat stretches, no lone spikes, minute after minute.

Three simulated hours of 1m candles of every default symbol, under the demo's seed, read
from the ground truth (no clock involved). Prices do not depend on when the simulator
starts (only listing dates do), so any three hours are what a demo shows first.

The bounds, with ``sigma_1m = daily_volatility / sqrt(1440)`` (a minute's standard
deviation of the log price: 0.079% for BTCUSDT, 0.13% for SOLUSDT):

* no candle without a range (``open == high == low == close``): the tape gives every
  minute at least one tick, so no run of five such candles, nor of one;
* no run of five candles with ``open == close`` for a symbol whose tick is under a tenth
  of ``sigma_1m`` at its price (BTCUSDT: a three-thousandth), where a repeat by chance is
  about one candle in twenty-five. Coarser ticks repeat the price often, as real markets
  with a coarse tick do (LINKUSDT at $15: a tick is half of ``sigma_1m``);
* for those fine ticks, at most ``tick / sigma_1m + 5%`` of neighbouring minutes share their
  high or their low to the tick. Brownian minutes tie about as often as a tick is against a
  minute's move (BTCUSDT: never; SOLUSDT at a tenth: about one in ten); the reported tape
  tied a third of them, BTCUSDT included, because children near an edge of their parent were
  cut to it;
* every candle's ``(high - low) / open`` at most ``8 * sigma_1m`` (0.63% for BTCUSDT). The
  tape reaches about 6 over a million candles across seeds and dates; the reported wick
  was 63 (BTCUSDT, +5% in one minute).
"""

from __future__ import annotations

import itertools
import math

import pytest

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import DAY_MS, HOUR_MS, MINUTE_MS, Interval
from marketcast.exchanges.sim import DEFAULT_SYMBOLS, GroundTruth, SimConfig, Tape

M1 = Interval.parse("1m")
DEMO_SEED = SimConfig().seed
MAX_RANGE_SIGMAS = 8.0
FINE_TICK_SIGMAS = 0.1
LONGEST_RUN = 4
TIE_SHARE = 0.05
STARTS = (
    1_714_521_600_000,  # 2024-05-01 00:00 UTC: a day's first hours
    1_714_521_600_000 + 13 * HOUR_MS + 7 * MINUTE_MS,  # an afternoon, off the hour
    1_796_583_600_000,  # 2026-12-06 19:00 UTC: the report's hours (19:45-20:10), lately
)


def three_hours(symbol: str, start: int) -> tuple[Tape, list[Candle]]:
    tape = Tape(DEMO_SEED, DEFAULT_SYMBOLS, start)
    end = start + 3 * HOUR_MS
    candles = GroundTruth(tape).klines(symbol, M1, start, end - MINUTE_MS, end)
    assert len(candles) == 180
    return tape, candles


def longest_run(flags: list[bool]) -> int:
    return max((len(list(run)) for flag, run in itertools.groupby(flags) if flag), default=0)


def sigma_1m(tape: Tape, symbol: str) -> float:
    return tape.spec(symbol).daily_volatility / math.sqrt(DAY_MS / MINUTE_MS)


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("symbol", DEFAULT_SYMBOLS)
def test_every_minute_moves_and_fine_ticks_repeat_prices_no_more_than_chance(
    symbol: str, start: int
) -> None:
    tape, candles = three_hours(symbol, start)
    dead = [c.open == c.high == c.low == c.close for c in candles]
    assert not any(dead), [c for c, d in zip(candles, dead, strict=True) if d][:3]
    tick = 10.0 ** -tape.spec(symbol).price_decimals / candles[0].open / sigma_1m(tape, symbol)
    if tick < FINE_TICK_SIGMAS:
        assert longest_run([c.open == c.close for c in candles]) <= LONGEST_RUN
        pairs = list(itertools.pairwise(candles))
        ties = [(a, b) for a, b in pairs if a.high == b.high or a.low == b.low]
        assert len(ties) / len(pairs) <= tick + TIE_SHARE, ties[:3]


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("symbol", DEFAULT_SYMBOLS)
def test_no_minute_spans_more_than_eight_of_its_standard_deviations(
    symbol: str, start: int
) -> None:
    tape, candles = three_hours(symbol, start)
    bound = MAX_RANGE_SIGMAS * sigma_1m(tape, symbol)
    widest = max(candles, key=lambda c: (c.high - c.low) / c.open)
    assert (widest.high - widest.low) / widest.open <= bound, widest
