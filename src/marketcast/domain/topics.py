"""A topic is one candle series: a symbol on one interval."""

from __future__ import annotations

from dataclasses import dataclass

from marketcast.domain.intervals import Interval


@dataclass(frozen=True, slots=True)
class Topic:
    """``Topic("BTCUSDT", Interval.parse("1m"))``; symbols are upper-case exchange ids."""

    symbol: str
    interval: Interval

    @staticmethod
    def of(symbol: str, interval: str) -> Topic:
        return Topic(symbol.upper(), Interval.parse(interval))

    def __str__(self) -> str:
        return f"{self.symbol}:{self.interval.code}"
