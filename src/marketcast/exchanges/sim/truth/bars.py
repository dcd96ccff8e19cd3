"""Integer bars and trades: the atoms of the simulated tape, and how they add up.

Prices are in ticks and quantities in lots, so highs, lows and sums are exact and every
level of the tape aggregates to its children bit for bit. Decimals appear only at the wire.

``Bar`` and ``Trade`` are named tuples rather than frozen dataclasses on purpose: the tape
creates them by the thousand per request, and a tuple is several times cheaper to build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Bar(NamedTuple):
    """OHLCV of one time span of the tape; ``first_id`` is the global id of its first trade."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int
    first_id: int

    @property
    def last_id(self) -> int:
        return self.first_id + self.trades - 1


class Trade(NamedTuple):
    """One trade. ``trade_id`` counts every trade of the symbol since its listing."""

    trade_id: int
    time: int
    price: int
    qty: int
    is_buyer_maker: bool


def merge(bars: Sequence[Bar]) -> Bar:
    """The bar spanning consecutive ``bars``: first open, last close, extremes and sums."""
    first = bars[0]
    if len(bars) == 1:
        return first
    return Bar(
        first.open_time,
        first.open,
        max(b.high for b in bars),
        min(b.low for b in bars),
        bars[-1].close,
        sum(b.volume for b in bars),
        sum(b.trades for b in bars),
        first.first_id,
    )


def bar_of_trades(open_time: int, trades: Sequence[Trade]) -> Bar:
    """The bar made of ``trades`` (at least one), opening at ``open_time``."""
    prices = [t.price for t in trades]
    return Bar(
        open_time,
        prices[0],
        max(prices),
        min(prices),
        prices[-1],
        sum(t.qty for t in trades),
        len(trades),
        trades[0].trade_id,
    )


def partition(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into non-negative integer shares proportional to ``weights``.

    Shares are differences of floored cumulative cuts, so they always sum to ``total``
    exactly; float rounding can only move a unit between neighbours, never lose one.
    """
    scale = total / sum(weights)
    shares: list[int] = []
    previous = 0
    running = 0.0
    for weight in weights[:-1]:
        running += weight
        cut = int(running * scale)
        cut = total if cut > total else cut
        shares.append(cut - previous)
        previous = cut
    shares.append(total - previous)
    return shares
