"""Candles and the rules that keep a series of them exact.

A candle is identified by its open time. Two versions of the same candle are merged by
:func:`newer_version`: a closed (final) version beats a forming one, and among forming
versions the one with more trades is further along. Binance's trade count never
decreases within a candle, so it orders versions even when messages arrive out of order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Candle(NamedTuple):
    """One kline. ``open_time`` is epoch ms; ``closed`` marks the exchange's final version.

    A named tuple rather than a frozen dataclass: every kline message builds a few, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost five times
    a tuple's, a quarter of the hub's ingest (``bench/ingest.py``). A copy with changes is
    ``candle._replace(...)``.
    """

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int
    closed: bool

    @property
    def time(self) -> int:
        """Open time in seconds, the unit charting clients use."""
        return self.open_time // 1000


def newer_version(stored: Candle | None, incoming: Candle) -> Candle | None:
    """Return the version to store, or ``None`` when ``stored`` should stay as it is.

    Never replaces a closed candle by a forming one. A closed incoming version replaces
    anything (REST is the referee for final values). Between forming versions, the one
    with more trades wins; an equal count with different prices is still a newer push of
    the same candle (Binance may re-send), so it replaces unless it is identical.
    """
    if stored is None:
        return incoming
    if stored.closed and not incoming.closed:
        return None
    if not stored.closed and not incoming.closed and incoming.trades < stored.trades:
        return None
    return None if incoming == stored else incoming


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Open times ``first``..``last``, both inclusive and aligned to the interval."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"empty range {self.first}..{self.last}")

    def contains(self, open_time: int) -> bool:
        return self.first <= open_time <= self.last
