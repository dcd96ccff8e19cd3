"""What each REST call costs in request weight, per market, as Binance documents it.

Pure functions keyed by the market's name. The numbers matter: the weight budget
reserves them before a call, and a wrong (too small) number lets a burst of calls run
into a 429, whose ``Retry-After`` stalls every caller.

==================  ==========================  ===================================
endpoint            spot (``/api/v3``)          USD-M futures (``/fapi/v1``)
==================  ==========================  ===================================
klines              2                           1 / 2 / 5 / 10 for limit < 100,
                                                < 500, <= 1000, above
depth               5 / 25 / 50 / 250 for       2 / 5 / 10 / 20 for limit <= 50,
                    limit <= 100, 500, 1000,    100, 500, 1000 (only 5, 10, 20, 50,
                    5000                        100, 500, 1000 are valid)
aggTrades           4                           20
exchangeInfo        20                          1
ticker/24hr (all)   80                          40
time                1                           1
==================  ==========================  ===================================
"""

from __future__ import annotations

from typing import Final

from marketcast.exchanges.binance.markets import MarketSpec

TIME_WEIGHT: Final = 1
SPOT_KLINES_WEIGHT: Final = 2
FUTURES_DEPTH_LIMITS: Final = (5, 10, 20, 50, 100, 500, 1000)
SPOT_MAX_DEPTH_LIMIT: Final = 5000

# Upper bound of a limit band (inclusive) -> weight; the last band is open-ended.
_SPOT_DEPTH: Final = ((100, 5), (500, 25), (1000, 50), (SPOT_MAX_DEPTH_LIMIT, 250))
_FUTURES_DEPTH: Final = ((50, 2), (100, 5), (500, 10), (1000, 20))
_FUTURES_KLINES: Final = ((99, 1), (499, 2), (1000, 5), (1500, 10))
_FIXED: Final = {
    "spot": {"aggTrades": 4, "exchangeInfo": 20, "ticker/24hr": 80},
    "usdm": {"aggTrades": 20, "exchangeInfo": 1, "ticker/24hr": 40},
}


def klines_weight(market: MarketSpec, limit: int) -> int:
    """Weight of one ``klines`` call asking for ``limit`` rows."""
    if market.name == "spot":
        return SPOT_KLINES_WEIGHT
    return _banded(_FUTURES_KLINES, limit)


def depth_weight(market: MarketSpec, limit: int) -> int:
    """Weight of one ``depth`` snapshot of ``limit`` levels per side.

    Raises:
        ValueError: ``limit`` is not one the market accepts (futures take only
            5, 10, 20, 50, 100, 500 or 1000; spot 1..5000).
    """
    if market.name == "spot":
        if not 1 <= limit <= SPOT_MAX_DEPTH_LIMIT:
            raise ValueError(f"spot depth limit must be in 1..{SPOT_MAX_DEPTH_LIMIT}, got {limit}")
        return _banded(_SPOT_DEPTH, limit)
    if limit not in FUTURES_DEPTH_LIMITS:
        valid = ", ".join(map(str, FUTURES_DEPTH_LIMITS))
        raise ValueError(f"futures depth limit must be one of {valid}, got {limit}")
    return _banded(_FUTURES_DEPTH, limit)


def snapshot_limit(market: MarketSpec, depth: int) -> int:
    """The ``depth`` snapshot ``limit`` that holds ``depth`` levels per side, or as many as
    the market gives (USD-M takes only its fixed limits, up to 1000)."""
    if market.name == "spot":
        return min(depth, SPOT_MAX_DEPTH_LIMIT)
    return next(
        (limit for limit in FUTURES_DEPTH_LIMITS if limit >= depth), FUTURES_DEPTH_LIMITS[-1]
    )


def fixed_weight(market: MarketSpec, endpoint: str) -> int:
    """Weight of an endpoint whose cost does not depend on its parameters.

    ``endpoint`` is ``"aggTrades"``, ``"exchangeInfo"``, ``"ticker/24hr"`` (all symbols)
    or ``"time"``.
    """
    if endpoint == "time":
        return TIME_WEIGHT
    return _FIXED[market.name][endpoint]


def _banded(bands: tuple[tuple[int, int], ...], limit: int) -> int:
    for upper, weight in bands:
        if limit <= upper:
            return weight
    return bands[-1][1]
