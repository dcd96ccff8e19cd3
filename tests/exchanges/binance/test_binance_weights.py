"""Request weights per market and endpoint, as Binance documents them."""

from __future__ import annotations

import pytest

from marketcast.exchanges.binance.markets import SPOT, USDM
from marketcast.exchanges.binance.weights import depth_weight, fixed_weight, klines_weight


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(1, 5), (100, 5), (101, 25), (500, 25), (501, 50), (1000, 50), (1001, 250), (5000, 250)],
)
def test_spot_depth_weight_follows_the_limit_bands(limit: int, weight: int) -> None:
    assert depth_weight(SPOT, limit) == weight


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(5, 2), (10, 2), (20, 2), (50, 2), (100, 5), (500, 10), (1000, 20)],
)
def test_futures_depth_weight_follows_the_limit(limit: int, weight: int) -> None:
    assert depth_weight(USDM, limit) == weight


@pytest.mark.parametrize("limit", [0, 1, 25, 200, 999, 5000])
def test_futures_depth_refuses_limits_binance_does_not_take(limit: int) -> None:
    with pytest.raises(ValueError, match="futures depth limit"):
        depth_weight(USDM, limit)


@pytest.mark.parametrize("limit", [0, 5001])
def test_spot_depth_refuses_limits_out_of_range(limit: int) -> None:
    with pytest.raises(ValueError, match="spot depth limit"):
        depth_weight(SPOT, limit)


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10), (1500, 10)],
)
def test_futures_klines_weight_follows_the_limit(limit: int, weight: int) -> None:
    assert klines_weight(USDM, limit) == weight


@pytest.mark.parametrize("limit", [1, 500, 1000])
def test_spot_klines_weight_is_flat(limit: int) -> None:
    assert klines_weight(SPOT, limit) == 2


@pytest.mark.parametrize(
    ("endpoint", "spot", "usdm"),
    [("aggTrades", 4, 20), ("exchangeInfo", 20, 1), ("ticker/24hr", 80, 40), ("time", 1, 1)],
)
def test_fixed_weights_differ_per_market(endpoint: str, spot: int, usdm: int) -> None:
    assert (fixed_weight(SPOT, endpoint), fixed_weight(USDM, endpoint)) == (spot, usdm)
