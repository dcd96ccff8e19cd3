"""A topic is one candle series: a symbol on one interval."""

from __future__ import annotations

from typing import NamedTuple

from marketcast.domain.intervals import Interval


class Topic(NamedTuple):
    """``Topic("BTCUSDT", Interval.parse("1m"))``; symbols are upper-case exchange ids.

    A named tuple: topics key most of the hub's maps, several lookups per kline, and a
    tuple's hash is computed in C where a frozen dataclass's runs Python code each time.
    """

    symbol: str
    interval: Interval

    @staticmethod
    def of(symbol: str, interval: str) -> Topic:
        return Topic(symbol.upper(), Interval.parse(interval))

    def __str__(self) -> str:
        return f"{self.symbol}:{self.interval.code}"
