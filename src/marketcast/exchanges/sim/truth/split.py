"""Top-down expansion of one bar into its children, and of a one-second bar into trades.

The parent is fixed first and the children are drawn to fit it exactly: the first child
opens at the parent's open, the last closes at its close, one child reaches the parent's
high and one its low, every other child stays inside the parent's range, and trade counts
and volumes are integer partitions of the parent's. So any level aggregates to its parent
without rounding, which is what lets REST history serve as ground truth.

Children are chained (a child opens where the previous one closed) along a Brownian
bridge from the parent's open to its close, so prices wander plausibly at every scale.
Each child keeps at least :data:`MIN_TRADES_PER_SECOND` trades per second it spans; that
lets every second hold a trade at its open, one at its close, one at its high and one at
its low.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Final

from marketcast.exchanges.sim.truth.bars import Bar, Trade, partition

MIN_TRADES_PER_SECOND: Final = 4
_BRIDGE_SCALE: Final = 0.5
_WICK_SCALE: Final = 0.6


def split_bar(parent: Bar, child_ms: int, count: int, rng: random.Random) -> tuple[Bar, ...]:
    """Expand ``parent`` into ``count`` consecutive children of ``child_ms`` each."""
    draw = rng.random
    min_trades = MIN_TRADES_PER_SECOND * child_ms // 1000
    weights = [0.4 + draw() for _ in range(count)]
    trades = partition(parent.trades - count * min_trades, weights)
    extra = partition(parent.volume - parent.trades, [w * (0.3 + draw()) for w in weights])
    bounds = _bridge(parent, count, draw)
    high_at, low_at = int(draw() * count), int(draw() * count)
    top, bottom = parent.high, parent.low
    wick = (top - bottom) * _WICK_SCALE / math.sqrt(count)
    children: list[Bar] = []
    first_id = parent.first_id
    start = parent.open_time
    for i in range(count):
        open_, close = bounds[i], bounds[i + 1]
        n = trades[i] + min_trades
        if open_ < close:
            high, low = close + int(draw() ** 2 * wick), open_ - int(draw() ** 2 * wick)
        else:
            high, low = open_ + int(draw() ** 2 * wick), close - int(draw() ** 2 * wick)
        high = top if i == high_at or high > top else high
        low = bottom if i == low_at or low < bottom else low
        children.append(Bar(start, open_, high, low, close, n + extra[i], n, first_id))
        first_id += n
        start += child_ms
    return tuple(children)


def _bridge(parent: Bar, count: int, draw: Callable[[], float]) -> list[int]:
    """``count + 1`` boundary prices from open to close, clamped into the parent's range."""
    top, bottom = parent.high, parent.low
    step = (top - bottom) * _BRIDGE_SCALE * 2.0 / math.sqrt(count)
    walk = [0.0] * (count + 1)
    position = 0.0
    for i in range(1, count + 1):
        position += draw() - 0.5
        walk[i] = position
    # Subtracting the walk's own drift pins both ends: a Brownian bridge, scaled to range.
    slope = (parent.close - parent.open - position * step) / count
    bounds = [parent.open]
    for i in range(1, count):
        point = round(parent.open + slope * i + walk[i] * step)
        bounds.append(top if point > top else bottom if point < bottom else point)
    bounds.append(parent.close)
    return bounds


def split_trades(second: Bar, rng: random.Random) -> tuple[Trade, ...]:
    """The trades of a one-second bar, which aggregate back to it exactly.

    The first trade is at the second's first millisecond, so a candle that exists at a
    virtual time always has at least one trade by then.
    """
    draw = rng.random
    count = second.trades
    prices = _trade_prices(second, count, draw)
    offsets = sorted(int(draw() * 1000) for _ in range(count - 1))
    qtys = partition(second.volume - count, [0.2 + draw() for _ in range(count)])
    trades: list[Trade] = []
    previous = second.open
    for i, price in enumerate(prices):
        time = second.open_time + (offsets[i - 1] if i else 0)
        maker_odds = 0.35 if price > previous else 0.65 if price < previous else 0.5
        trades.append(Trade(second.first_id + i, time, price, qtys[i] + 1, draw() < maker_odds))
        previous = price
    return tuple(trades)


def _trade_prices(second: Bar, count: int, draw: Callable[[], float]) -> list[int]:
    """Open first, close last, the high and the low on two distinct trades in between."""
    high_at = 1 + int(draw() * (count - 2))
    low_at = 1 + int(draw() * (count - 2))
    if low_at == high_at:
        low_at = high_at + 1 if high_at + 1 < count - 1 else high_at - 1
    span = second.high - second.low
    prices = [second.open]
    for i in range(1, count - 1):
        if i == high_at:
            prices.append(second.high)
        elif i == low_at:
            prices.append(second.low)
        else:
            prices.append(second.low + int(draw() * (span + 1)))
    prices.append(second.close)
    return prices
