"""Top-down expansion of one bar into its children, and of a one-second bar into trades.

The parent is fixed first and the children are drawn to fit it exactly: the first child
opens at the parent's open, the last closes at its close, one child reaches the parent's
high and one its low, every other child stays inside the parent's range, and trade counts
and volumes are integer partitions of the parent's. So any level aggregates to its parent
without rounding, which is what lets REST history serve as ground truth.

Children are cut from one fine random walk across the parent (at least two steps per
child). The walk starts at the open, visits the high and the low (in the order Brownian
motion would likelier take) and ends at the close, at a steady pace between these pins,
with Brownian bridges between them reflected off the range's edges. Its noise is the
symbol's own volatility at the step's time scale, not a share of the parent's range, so
every candle of a level moves about as much as any other, whatever its parent did. Each
child is the OHLC of its stretch of the walk plus a wick for the moves between steps,
and never spans less than half its own standard deviation (one tick for a minute or
more: hundreds of trades hit both the bid and the ask).

An earlier model drew the boundary prices alone, clamped them into the parent's range and
then forced one child up to the high and one down to the low, with noise scaled to the
parent's range. That made runs of flat candles wherever the clamp held the price at an
edge (``O == C`` minute after minute), let a quiet parent shrink every candle below it,
and dumped the whole gap between the walk and the parent's high into one child, level
after level: a day's high became a single minute's +5% wick from a flat body.

What it gives: over three hours of 1m candles of the default symbols, across seeds and
dates, no candle without a range, and no 1m range above about 6 standard deviations of a
minute's move (``daily_volatility / sqrt(1440)`` of the price); the tests hold it to 8.
Only the child whose stretch holds a pin reaches the parent's high or low, so neighbouring
minutes of a fine-tick symbol share a high or a low about as rarely as Brownian minutes do
(BTCUSDT: under 1%; the tests hold every such symbol to ``tick / sigma + 5%``). There are
no jumps: a price shock would be a scheduled event, and the simulator has none.

Each child keeps at least :data:`MIN_TRADES_PER_SECOND` trades per second it spans; that
lets every second hold a trade at its open, one at its close, one at its high and one at
its low.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from marketcast.domain.intervals import DAY_MS, MINUTE_MS
from marketcast.exchanges.sim.truth.bars import Bar, Trade, partition

MIN_TRADES_PER_SECOND: Final = 4
_MIN_STEPS: Final = 24
"""Fine steps per parent at least, so a parent of three children still wanders."""
_STEPS_PER_CHILD: Final = 2
"""Fine steps per child at least: a child's high and low can lie between its ends."""
_WICK_SCALE: Final = 1.75
"""Largest wick drawn beyond a child's sampled walk, in standard deviations of one step.
A walk sampled at whole steps misses on average 0.58 step deviations of each extreme of
the motion between (Siegmund's correction); wicks of ``random() ** 2`` times this scale
add that back on average, and never more than the scale."""
_MIN_RANGE: Final = 0.5
"""Least range of a child, in standard deviations of its own move. Brownian motion almost
never spans less: staying in a band that narrow has odds of the order of
``exp(-pi² / (2 * 0.5²))``, about 1e-9."""
_SPREAD_MS: Final = MINUTE_MS
"""Children this long or longer move at least one tick: hundreds of trades hit both the
bid and the ask, a tick apart."""
_MAX_EXPONENT: Final = 700.0
"""Below the largest argument ``math.exp`` takes."""
_UNIFORM_SD: Final = math.sqrt(12.0)
"""Scales ``random() - 0.5`` to a unit standard deviation."""


def split_bar(
    parent: Bar, child_ms: int, count: int, volatility: float, rng: random.Random
) -> tuple[Bar, ...]:
    """Expand ``parent`` into ``count`` consecutive children of ``child_ms`` each;
    ``volatility`` is the symbol's daily one (standard deviation of the log price)."""
    draw = rng.random
    min_trades = MIN_TRADES_PER_SECOND * child_ms // 1000
    weights = [0.4 + draw() for _ in range(count)]
    trades = partition(parent.trades - count * min_trades, weights)
    extra = partition(parent.volume - parent.trades, [w * (0.3 + draw()) for w in weights])
    per_child = max(_STEPS_PER_CHILD, -(-_MIN_STEPS // count))
    step_sd = parent.open * volatility * math.sqrt(child_ms / per_child / DAY_MS)
    walk = _pinned_walk(parent, (count, per_child), step_sd, draw)
    least = round(_MIN_RANGE * step_sd * math.sqrt(per_child))
    extent = _Extent(
        (parent.low, parent.high),
        step_sd * _WICK_SCALE,
        max(least, 1) if child_ms >= _SPREAD_MS else least,
        draw,
    )
    children: list[Bar] = []
    first_id = parent.first_id
    start = parent.open_time
    for i in range(count):
        stretch = walk[i * per_child : (i + 1) * per_child + 1]
        n = trades[i] + min_trades
        high, low = extent.of(stretch)
        children.append(Bar(start, stretch[0], high, low, stretch[-1], n + extra[i], n, first_id))
        first_id += n
        start += child_ms
    return tuple(children)


@dataclass(frozen=True, slots=True)
class _Extent:
    """A child's high and low around its stretch of the walk, inside ``bounds``.

    The walk samples a child at a few steps only: a wick on each side stands for what the
    price did between them, or ranges would shrink level after level. A child's range is
    never under ``least`` either (where the parent's allows), or a short stretch that
    happened to stay put would flatten every candle below it.

    Only the child whose stretch holds the parent's high reaches it (likewise the low):
    the others stay a tick inside, and their wicks are drawn within the room left rather
    than cut at the edge. A cut piles every long wick near an edge onto the edge itself,
    which gave a third of neighbouring minutes the same high or low to the tick.
    """

    bounds: tuple[int, int]
    wick: float
    least: int
    draw: Callable[[], float]

    def of(self, stretch: list[int]) -> tuple[int, int]:
        draw = self.draw
        bottom, top = self.bounds
        highest, lowest = max(stretch), min(stretch)
        if top - bottom > 2:
            top = top if highest == top else top - 1
            bottom = bottom if lowest == bottom else bottom + 1
        high = highest + int(draw() ** 2 * min(self.wick, top - highest))
        low = lowest - int(draw() ** 2 * min(self.wick, lowest - bottom))
        if high - low < self.least:
            # Widen on both sides, by a random split, as far as the room allows.
            high = min(top, high + round((self.least - (high - low)) * draw()))
            low = max(bottom, min(low, high - self.least))
            high = min(top, max(high, low + self.least))
        return high, low


def _pinned_walk(
    parent: Bar, children: tuple[int, int], step_sd: float, draw: Callable[[], float]
) -> list[int]:
    """The prices from the open to the close, ``per_child`` steps for each of ``count``
    children (``children``), that touch the high and the low.

    The walk goes open → one extreme → the other → close, with Brownian bridges between
    these pins reflected off the range's edges, so it never leaves the parent's range
    and never sticks to an edge. An extreme that is already the open or the close is
    pinned there; any other lies inside one child's stretch, never on the step two
    children share (one's close, the next one's open), or both would reach it.
    """
    count, per_child = children
    steps = count * per_child
    top, bottom = parent.high, parent.low
    if top == bottom:
        return [top] * (steps + 1)
    extremes = _extremes_in_order(parent, step_sd**2 * steps, draw)
    prices = [parent.open, *extremes, parent.close]
    lengths = _off_boundaries(_leg_lengths(prices, steps, step_sd, draw), per_child)
    noise = step_sd * _UNIFORM_SD
    walk = [parent.open]
    for i, length in enumerate(lengths):
        walk += _bridge((prices[i], prices[i + 1]), length, noise, (bottom, top), draw)
    return walk


def _off_boundaries(lengths: list[int], per_child: int) -> list[int]:
    """``lengths`` with each inner pin moved a step off the children's shared steps.

    Moving a pin one step later takes a step from the leg after it, so the total holds;
    with at least two steps per child, the step after a boundary is never one itself.
    """
    lengths = list(lengths)
    at = 0
    for i in range(len(lengths) - 1):
        at += lengths[i]
        if at % per_child == 0:
            if lengths[i + 1] > 1:
                lengths[i] += 1
                lengths[i + 1] -= 1
                at += 1
            elif lengths[i] > 1:
                lengths[i] -= 1
                lengths[i + 1] += 1
                at -= 1
    return lengths


def _extremes_in_order(parent: Bar, variance: float, draw: Callable[[], float]) -> list[int]:
    """The extremes the walk must visit between its ends, in the order it visits them.

    A Brownian path that must travel ``D`` in all is about ``exp(-D² / 2V)`` likely
    (``V``: the parent's ``variance``), so the order that travels less is the likelier
    one, overwhelmingly once the difference is large against the noise: a bar that opens
    near its high and closes near its low made its high first.
    """
    top, bottom = parent.high, parent.low
    high_first = (top - parent.open) + (top - bottom) + (parent.close - bottom)
    low_first = (parent.open - bottom) + (top - bottom) + (top - parent.close)
    odds = (high_first**2 - low_first**2) / (2 * variance)
    high_first_p = 1.0 / (1.0 + math.exp(min(odds, _MAX_EXPONENT)))
    order = [top, bottom] if draw() < high_first_p else [bottom, top]
    if parent.open == order[0]:
        order.pop(0)
    if parent.close == order[-1]:
        order.pop()
    return order


def _leg_lengths(
    prices: list[int], steps: int, step_sd: float, draw: Callable[[], float]
) -> list[int]:
    """Steps for each leg between consecutive ``prices``, at least one each.

    The likeliest way for Brownian motion to cover given distances in a given time is at
    one steady pace, so a leg gets a share of the steps about in proportion to its
    distance (a step's noise added, for legs shorter than the noise covers anyway). The
    walk never crosses most of the range in one step, which would make a lone spike.
    """
    weights = [(abs(b - a) + step_sd) * (0.5 + draw()) for a, b in itertools.pairwise(prices)]
    spare = steps - len(weights)
    return [1 + share for share in partition(spare, weights)]


def _bridge(
    ends: tuple[int, int],
    length: int,
    noise: float,
    bounds: tuple[int, int],
    draw: Callable[[], float],
) -> list[int]:
    """The ``length`` prices after ``start`` of a uniform-step bridge ending at ``end``
    (``ends``), within ``bounds`` (low, high)."""
    start, end = ends
    bottom, top = bounds
    inner_bottom, inner_top = (bottom + 1, top - 1) if top - bottom > 2 else bounds
    walk = [0.0] * (length + 1)
    position = 0.0
    for i in range(1, length + 1):
        position += draw() - 0.5
        walk[i] = position
    # Subtracting the walk's own drift pins both ends: a Brownian bridge.
    slope = (end - start - position * noise) / length
    points: list[int] = []
    for i in range(1, length):
        point = start + slope * i + walk[i] * noise
        # Reflected, not clamped: a clamp would hold the price flat at the edge. Only the
        # pins touch the edges, so only their children reach the parent's high or low.
        if point > top:
            point = 2 * top - point
        elif point < bottom:
            point = 2 * bottom - point
        points.append(min(inner_top, max(inner_bottom, round(point))))
    points.append(end)
    return points


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
