"""Comparing what a client holds with the simulator's ground truth."""

from __future__ import annotations

from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimExchange
from support.follow import ChartSeries

M1 = Interval.parse("1m")


def assert_equals_truth(
    series: ChartSeries, sim: SimExchange, symbol: str, interval: Interval = M1
) -> None:
    """Same open times as the exchange; every candle but the newest closed and final."""
    times = series.times()
    now = sim.clock.now_ms()
    truth = sim.truth.klines(symbol, interval, times[0] * 1000, times[-1] * 1000, now)
    assert [c.time for c in truth] == times, "missing or extra candles versus the exchange"
    for candle in truth[:-1]:
        row = series.rows[candle.time]
        got = (row["open"], row["high"], row["low"], row["close"], row["volume"])
        want = (candle.open, candle.high, candle.low, candle.close, candle.volume)
        assert got == want, f"candle {candle.time} differs from the exchange's final version"
        assert row.get("closed", row.get("is_closed")) is True, f"stale candle {candle.time}"
