"""Liquidations: payload vectors, and volume buckets that add up exactly and align.

Expected values are worked by hand next to each vector.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import (
    LIQUIDATION_TIMEFRAMES,
    Bucket,
    Liquidation,
    VolumeBuckets,
    liquidation_payload,
    parse_timeframe,
)
from marketcast.errors import InvalidInterval

T0 = 1_700_000_000_123  # 2023-11-14 22:13:20.123 UTC


def liq(side: str, quantity: str, avg_price: str, time_ms: int = T0) -> Liquidation:
    assert side in ("BUY", "SELL")
    return Liquidation(
        "BTCUSDT",
        "BUY" if side == "BUY" else "SELL",
        Decimal(quantity),
        Decimal(avg_price),
        Decimal(avg_price),
        time_ms,
    )


def test_payload_vector_from_binance_documented_force_order() -> None:
    # Binance's forceOrder example: SELL 0.014 BTC at avg 9910, T=1568014460893.
    # priceUsdt = 0.014 * 9910 = 138.74 -> "139"; 1568014460 mod 86400 = 27260 s = 07:34:20.
    order = Liquidation(
        "BTCUSDT", "SELL", Decimal("0.014"), Decimal("9910"), Decimal("9910"), 1568014460893
    )
    assert liquidation_payload(order, "BTC", 3) == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": 0.014,
        "quantityFormatted": "0.014",
        "priceUsdt": 138.74,
        "priceUsdtFormatted": "139",
        "timestamp": 1568014460893,
        "displayTime": "07:34:20",
        "avgPrice": 9910.0,
        "baseAsset": "BTC",
    }


def test_payload_groups_thousands_and_echoes_the_requested_symbol() -> None:
    # 12.5 * 67012.34 = 837654.25 -> "837,654"; quantity at 3 decimals -> "12.500".
    payload = liquidation_payload(liq("BUY", "12.5", "67012.34"), "BTC", 3, symbol="btcusdt")
    assert payload["symbol"] == "btcusdt"
    assert payload["priceUsdt"] == 837654.25
    assert payload["priceUsdtFormatted"] == "837,654"
    assert payload["quantityFormatted"] == "12.500"


def test_quote_value_falls_back_to_order_price_without_an_average() -> None:
    order = Liquidation("ETHUSDT", "BUY", Decimal("2"), Decimal("3000"), Decimal(0), T0)
    assert order.quote_value == Decimal("6000")


def test_key_identifies_time_amount_and_side() -> None:
    assert liq("BUY", "1", "10").key == (T0, Decimal("1"), "BUY")


def test_bucket_json_vector() -> None:
    # buy 1500 (shorts), sell 250000 (longs): total 251500, delta -248500.
    bucket = Bucket(1_699_999_200_000, 3, Decimal("1500"), Decimal("250000"))
    assert bucket.to_json() == {
        "time": 1_699_999_200,
        "timestamp_ms": 1_699_999_200_000,
        "count": 3,
        "buy_volume": 1500.0,
        "sell_volume": 250000.0,
        "total_volume": 251500.0,
        "delta_volume": -248500.0,
        "buy_volume_formatted": "1.50K",
        "sell_volume_formatted": "250.00K",
        "total_volume_formatted": "251.50K",
        "delta_volume_formatted": "-248.50K",
    }


@pytest.mark.parametrize(
    ("code", "open_ms"),
    [
        # T0 is 80_000.123 s into its UTC day 1_699_920_000 s.
        ("1m", 1_699_999_980_000),  # 22:13:00
        ("5m", 1_699_999_800_000),  # 22:10:00
        ("15m", 1_699_999_200_000),  # 22:00:00
        ("30m", 1_699_999_200_000),  # 22:00:00
        ("1h", 1_699_999_200_000),  # 22:00:00
        ("4h", 1_699_992_000_000),  # 20:00:00
        ("1d", 1_699_920_000_000),  # 00:00:00
    ],
)
def test_bucket_alignment_worked_values(code: str, open_ms: int) -> None:
    buckets = VolumeBuckets(parse_timeframe(code))
    bucket = buckets.add(liq("SELL", "1", "100"))
    assert bucket is not None
    assert bucket.open_ms == open_ms
    assert bucket.to_json()["time"] == open_ms // 1000


def test_live_update_returns_the_accumulated_bucket() -> None:
    buckets = VolumeBuckets(parse_timeframe("1m"))
    buckets.add(liq("BUY", "2", "100"))  # 200 of shorts
    updated = buckets.add(liq("SELL", "1", "50", T0 + 1))  # 50 of longs, same minute
    assert updated == Bucket(1_699_999_980_000, 2, Decimal("200"), Decimal("50"))
    assert updated.delta_volume == Decimal("150")


def test_unsupported_timeframes_are_rejected() -> None:
    with pytest.raises(InvalidInterval):
        parse_timeframe("3m")
    with pytest.raises(InvalidInterval):
        VolumeBuckets(Interval.parse("1w"))
    with pytest.raises(ValueError, match="max_buckets"):
        VolumeBuckets(parse_timeframe("1m"), 0)


liquidations = st.lists(
    st.builds(
        Liquidation,
        symbol=st.just("BTCUSDT"),
        side=st.sampled_from(["BUY", "SELL"]),
        quantity=st.decimals("0.001", "1000", places=3),
        price=st.decimals("0.0001", "100000", places=4),
        avg_price=st.decimals("0.0001", "100000", places=4),
        time_ms=st.integers(T0, T0 + 3 * 86_400_000),
    ),
    max_size=60,
)


@given(liquidations, st.sampled_from(LIQUIDATION_TIMEFRAMES))
def test_bucket_sums_equal_input_sums_per_side_exactly(items: list[Liquidation], code: str) -> None:
    interval = parse_timeframe(code)
    buckets = VolumeBuckets(interval, max_buckets=10_000)
    buckets.add_all(items)
    kept = buckets.range(0, 2**62)
    assert sum((b.buy_volume for b in kept), Decimal(0)) == sum(
        (x.quote_value for x in items if x.side == "BUY"), Decimal(0)
    )
    assert sum((b.sell_volume for b in kept), Decimal(0)) == sum(
        (x.quote_value for x in items if x.side == "SELL"), Decimal(0)
    )
    assert sum(b.count for b in kept) == len(items)
    length = interval.fixed_ms
    assert length is not None
    assert all(b.open_ms % length == 0 and b.count > 0 for b in kept)
    assert [b.open_ms for b in kept] == sorted({interval.floor(x.time_ms) for x in items})
    for b in kept:
        assert (b.delta_volume > 0) == (b.buy_volume > b.sell_volume)
        assert b.total_volume == b.buy_volume + b.sell_volume


@given(liquidations, st.integers(1, 5))
def test_memory_is_bounded_to_the_newest_buckets(items: list[Liquidation], limit: int) -> None:
    interval = parse_timeframe("1h")
    buckets = VolumeBuckets(interval, max_buckets=limit)
    buckets.add_all(items)
    opens = sorted({interval.floor(x.time_ms) for x in items})[-limit:]
    assert [b.open_ms for b in buckets.range(0, 2**62)] == opens
    assert len(buckets) == len(opens)


def test_too_old_liquidation_for_a_full_window_is_not_counted() -> None:
    buckets = VolumeBuckets(parse_timeframe("1m"), max_buckets=1)
    buckets.add(liq("BUY", "1", "1", T0))
    assert buckets.add(liq("BUY", "1", "1", T0 - 60_000)) is None
    assert len(buckets) == 1


def test_range_is_sparse_and_includes_the_bucket_holding_the_start() -> None:
    buckets = VolumeBuckets(parse_timeframe("1m"))
    for minute in (0, 1, 5):
        buckets.add(liq("SELL", "1", "10", T0 + minute * 60_000))
    # start inside the first minute still includes it; the empty minutes 2-4 are absent.
    got = buckets.range(T0 + 30_000, T0 + 5 * 60_000)
    assert [b.open_ms for b in got] == [1_699_999_980_000 + m * 60_000 for m in (0, 1, 5)]
    assert buckets.range(T0 + 6 * 60_000, T0 + 9 * 60_000) == []
