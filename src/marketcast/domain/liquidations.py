"""Liquidations: one forced order, its OrderFox display form, and volume buckets per timeframe.

A liquidation comes from the USD-M futures ``@forceOrder`` stream. Its ``side`` is the side
of the exchange's forced order: a ``SELL`` order closes a long (longs liquidated), a
``BUY`` order closes a short (shorts liquidated). Volume buckets follow OrderFox:
``buy_volume`` is shorts liquidated, ``sell_volume`` is longs, both in quote currency
(USDT), and ``delta_volume = buy_volume - sell_volume``.

``@forceOrder`` pushes at most one liquidation per symbol per second: it is a *sample*, so
every count and volume here is a lower bound of what was really liquidated, never a total.

Pure: no I/O and no clock; times are UTC epoch milliseconds taken from the event.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final, Literal

from marketcast.domain.formatting import format_amount, format_quote_total, format_volume
from marketcast.domain.intervals import SECOND_MS, Interval
from marketcast.domain.trades import time_of_day
from marketcast.errors import InvalidInterval

OrderSide = Literal["BUY", "SELL"]

LIQUIDATION_TIMEFRAMES: Final = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")
# About a day of 1m buckets, a week of 5m, a year and more of 1d: the chart never shows more.
DEFAULT_MAX_BUCKETS: Final = 1500


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One forced order. ``quantity`` is the filled (accumulated) quantity, the amount that
    was actually liquidated; ``avg_price`` its average fill price (0 if not filled yet)."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    avg_price: Decimal
    time_ms: int

    @property
    def quote_value(self) -> Decimal:
        """``quantity * avg_price`` (the order price if no average is known): OrderFox's
        ``priceUsdt``."""
        fill_price = self.avg_price if self.avg_price > 0 else self.price
        return self.quantity * fill_price

    @property
    def key(self) -> tuple[int, Decimal, OrderSide]:
        """Identity for de-duplication across history and live (OrderFox: time, amount, side)."""
        return (self.time_ms, self.quantity, self.side)


def liquidation_payload(
    liquidation: Liquidation,
    base_asset: str,
    amount_precision: int,
    *,
    symbol: str | None = None,
) -> dict[str, Any]:
    """One OrderFox ``liquidation_order`` object.

    ``quantityFormatted`` at the symbol's amount precision, ``priceUsdtFormatted`` a whole
    number with separators (seed 004), ``displayTime`` ``"HH:MM:SS"`` UTC. ``symbol``
    overrides the echoed id (the one the client asked for).
    """
    value = liquidation.quote_value
    return {
        "symbol": symbol or liquidation.symbol,
        "side": liquidation.side,
        "quantity": float(liquidation.quantity),
        "quantityFormatted": format_amount(liquidation.quantity, amount_precision),
        "priceUsdt": float(value),
        "priceUsdtFormatted": format_quote_total(value),
        "timestamp": liquidation.time_ms,
        "displayTime": time_of_day(liquidation.time_ms),
        "avgPrice": float(liquidation.avg_price),
        "baseAsset": base_asset,
    }


@dataclass(frozen=True, slots=True)
class Bucket:
    """Liquidations with an event time in ``[open_ms, next open)``; volumes in quote units."""

    open_ms: int
    count: int = 0
    buy_volume: Decimal = Decimal(0)
    sell_volume: Decimal = Decimal(0)

    @property
    def total_volume(self) -> Decimal:
        return self.buy_volume + self.sell_volume

    @property
    def delta_volume(self) -> Decimal:
        """Shorts minus longs liquidated: positive when shorts were squeezed."""
        return self.buy_volume - self.sell_volume

    def with_liquidation(self, liquidation: Liquidation) -> Bucket:
        value = liquidation.quote_value
        if liquidation.side == "BUY":
            return replace(self, count=self.count + 1, buy_volume=self.buy_volume + value)
        return replace(self, count=self.count + 1, sell_volume=self.sell_volume + value)

    def to_json(self) -> dict[str, Any]:
        """One entry of ``liquidation_volume.data`` / the REST ``data`` list."""
        volumes = {
            "buy_volume": self.buy_volume,
            "sell_volume": self.sell_volume,
            "total_volume": self.total_volume,
            "delta_volume": self.delta_volume,
        }
        return (
            {"time": self.open_ms // SECOND_MS, "timestamp_ms": self.open_ms, "count": self.count}
            | {name: float(v) for name, v in volumes.items()}
            | {f"{name}_formatted": format_volume(v) for name, v in volumes.items()}
        )


def parse_timeframe(code: str) -> Interval:
    """The interval for a liquidation timeframe code, or raise :class:`InvalidInterval`."""
    if code not in LIQUIDATION_TIMEFRAMES:
        raise InvalidInterval(str(code), LIQUIDATION_TIMEFRAMES)
    return Interval.parse(code)


class VolumeBuckets:
    """Liquidation volume per ``timeframe`` bucket, keeping the newest ``max_buckets``.

    Only buckets that saw a liquidation exist: the chart draws them as a histogram over the
    candles, where a missing bar and a zero bar look the same, and a sparse series keeps
    long ranges small. :meth:`range` therefore returns non-empty buckets only.
    """

    def __init__(self, timeframe: Interval, max_buckets: int = DEFAULT_MAX_BUCKETS) -> None:
        if timeframe.code not in LIQUIDATION_TIMEFRAMES:
            raise InvalidInterval(timeframe.code, LIQUIDATION_TIMEFRAMES)
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, got {max_buckets}")
        self.timeframe = timeframe
        self.max_buckets = max_buckets
        self._opens: list[int] = []  # ascending
        self._buckets: dict[int, Bucket] = {}

    def __len__(self) -> int:
        return len(self._opens)

    def add(self, liquidation: Liquidation) -> Bucket | None:
        """Count ``liquidation``; return its updated bucket (the live ``liquidation_volume``
        update), or ``None`` when it is older than every kept bucket and there is no room."""
        open_ms = self.timeframe.floor(liquidation.time_ms)
        current = self._buckets.get(open_ms)
        if current is None:
            if len(self._opens) >= self.max_buckets and open_ms < self._opens[0]:
                return None
            bisect.insort(self._opens, open_ms)
            current = Bucket(open_ms)
        updated = current.with_liquidation(liquidation)
        self._buckets[open_ms] = updated
        if len(self._opens) > self.max_buckets:
            del self._buckets[self._opens.pop(0)]
        return updated

    def add_all(self, liquidations: Iterable[Liquidation]) -> None:
        for liquidation in liquidations:
            self.add(liquidation)

    def range(self, start_ms: int, end_ms: int) -> list[Bucket]:
        """Non-empty buckets overlapping ``[start_ms, end_ms]``, oldest first."""
        first = bisect.bisect_left(self._opens, self.timeframe.floor(start_ms))
        last = bisect.bisect_right(self._opens, end_ms)
        return [self._buckets[t] for t in self._opens[first:last]]
