"""Candles as the hub serves them, and the exact series a follower keeps of one topic."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Candle:
    """One candle; ``time`` is its open time in seconds, ``closed`` whether it is final."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool


def parse_candle(row: Mapping[str, Any]) -> Candle:
    """A native candle row: ``{"time", "open", "high", "low", "close", "volume", "closed"}``."""
    return Candle(
        time=int(row["time"]),
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        close=float(row["close"]),
        volume=float(row["volume"]),
        closed=bool(row["closed"]),
    )


class CandleSeries:
    """Candles by open time, oldest first, kept by the hub's upsert rule.

    A candle replaces the one with the same open time, except that a closed candle is never
    replaced by a forming one: a closed candle is final, and a forming copy of it can only
    be a late repeat. A closed candle may still be replaced by another closed version (the
    hub corrects a final candle from the exchange's REST).

    Args:
        keep: hold at most this many newest candles (``None``: all), so a follower that
            runs for weeks holds a bounded window.
    """

    def __init__(self, keep: int | None = None) -> None:
        if keep is not None and keep < 1:
            raise ValueError("keep must be at least 1")
        self.keep = keep
        self._rows: dict[int, Candle] = {}  # insertion order is open-time order

    def upsert(self, candle: Candle) -> bool:
        """Apply ``candle``; return whether the series changed."""
        held = self._rows.get(candle.time)
        if held is not None and (held == candle or (held.closed and not candle.closed)):
            return False
        newest = self.newest
        self._rows[candle.time] = candle
        if held is None and newest is not None and candle.time < newest.time:
            # Rare (the hub sends in order): restore the order the rest relies on.
            self._rows = dict(sorted(self._rows.items()))
        if self.keep is not None:
            while len(self._rows) > self.keep:
                del self._rows[next(iter(self._rows))]
        return True

    def clear(self) -> int:
        """Drop everything; return how many candles were held."""
        dropped = len(self._rows)
        self._rows.clear()
        return dropped

    @property
    def newest(self) -> Candle | None:
        return self._rows[next(reversed(self._rows))] if self._rows else None

    @property
    def newest_time(self) -> int | None:
        """The open time to resume from (``since``), ``None`` when nothing is held."""
        return next(reversed(self._rows)) if self._rows else None

    def candles(self) -> list[Candle]:
        """The held candles, oldest first."""
        return list(self._rows.values())

    def get(self, time: int) -> Candle | None:
        return self._rows.get(time)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Candle]:
        return iter(list(self._rows.values()))

    def __contains__(self, time: object) -> bool:
        return time in self._rows
