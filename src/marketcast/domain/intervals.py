"""Binance kline intervals as a type, and the open-time arithmetic each one follows.

Every time here is a UTC epoch in milliseconds, the unit Binance uses for open times.
Codes are case-sensitive: ``1m`` is a minute and ``1M`` a calendar month.

Fixed-length intervals step by their length. Alignment (what :meth:`Interval.floor`
returns) is to the Unix epoch, except ``1w`` which opens on Monday 00:00 UTC and ``1M``
which opens on the first day of each calendar month. The step from one open time to the
next never depends on alignment, so gap detection stays correct even for an interval
whose exchange alignment differed from ours (``3d`` is epoch-aligned on the simulator and
is checked against its REST history in the tests).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from marketcast.errors import InvalidInterval

SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60 * SECOND_MS
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
WEEK_MS: Final = 7 * DAY_MS
# 1970-01-01 was a Thursday; the first Monday 00:00 UTC after the epoch is 4 days later.
_MONDAY_OFFSET_MS: Final = 4 * DAY_MS


class Unit(enum.Enum):
    SECOND = SECOND_MS
    MINUTE = MINUTE_MS
    HOUR = HOUR_MS
    DAY = DAY_MS
    WEEK = WEEK_MS
    MONTH = 0  # calendar: no fixed length

    @property
    def ms(self) -> int:
        length: int = self.value
        return length


@dataclass(frozen=True, slots=True)
class Interval:
    """One kline interval, e.g. ``Interval.parse("15m")``."""

    code: str
    unit: Unit
    count: int

    def __hash__(self) -> int:
        # Hashed with every topic, several times per kline: the code alone names the
        # interval, and a string keeps its hash, where the generated hash would hash the
        # unit enum (Python code) on every call.
        return hash(self.code)

    @staticmethod
    def parse(code: str) -> Interval:
        """Return the interval for a Binance code, or raise :class:`InvalidInterval`."""
        try:
            return _BY_CODE[code]
        except (KeyError, TypeError):
            raise InvalidInterval(str(code), INTERVAL_CODES) from None

    @property
    def fixed_ms(self) -> int | None:
        """Length in ms, or ``None`` for the calendar month."""
        return None if self.unit is Unit.MONTH else self.unit.ms * self.count

    @property
    def nominal_ms(self) -> int:
        """Length in ms, a month counted as 30 days: for sizing, never for arithmetic."""
        return self.fixed_ms or 30 * DAY_MS

    def floor(self, t_ms: int) -> int:
        """Open time of the candle that contains ``t_ms``."""
        if self.unit is Unit.MONTH:
            return _month_floor(t_ms)
        length = self.unit.ms * self.count
        offset = _MONDAY_OFFSET_MS if self.unit is Unit.WEEK else 0
        return (t_ms - offset) // length * length + offset

    def next_open(self, open_ms: int) -> int:
        if self.unit is Unit.MONTH:
            return _add_months(open_ms, 1)
        return open_ms + self.unit.ms * self.count

    def prev_open(self, open_ms: int) -> int:
        if self.unit is Unit.MONTH:
            return _add_months(open_ms, -1)
        return open_ms - self.unit.ms * self.count

    def shifted(self, open_ms: int, steps: int) -> int:
        """The open time ``steps`` candles after ``open_ms`` (before it when negative)."""
        if self.unit is Unit.MONTH:
            return _add_months(open_ms, steps)
        return open_ms + steps * self.unit.ms * self.count

    def close_time(self, open_ms: int) -> int:
        """Binance's close time: the last millisecond of the candle."""
        return self.next_open(open_ms) - 1

    def open_times(self, first: int, last: int) -> Iterator[int]:
        """Open times from ``first`` through ``last`` inclusive (``first`` must be aligned)."""
        t = first
        while t <= last:
            yield t
            t = self.next_open(t)

    def steps_between(self, earlier: int, later: int) -> int:
        """How many ``next_open`` steps lead from ``earlier`` to ``later`` (both aligned)."""
        if self.unit is Unit.MONTH:
            (y0, m0), (y1, m1) = _year_month(earlier), _year_month(later)
            return (y1 - y0) * 12 + (m1 - m0)
        return (later - earlier) // (self.unit.ms * self.count)

    def __str__(self) -> str:
        return self.code


def _year_month(t_ms: int) -> tuple[int, int]:
    days = t_ms // DAY_MS
    year, month, _ = _civil_from_days(days)
    return year, month


def _month_floor(t_ms: int) -> int:
    year, month = _year_month(t_ms)
    return _days_from_civil(year, month, 1) * DAY_MS


def _add_months(open_ms: int, months: int) -> int:
    year, month = _year_month(open_ms)
    index = year * 12 + (month - 1) + months
    return _days_from_civil(index // 12, index % 12 + 1, 1) * DAY_MS


# Howard Hinnant's days-from-civil algorithms: exact proleptic Gregorian calendar in
# integer arithmetic, so month boundaries need no datetime objects on the hot path.
def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


_SPECS: Final = (
    ("1s", Unit.SECOND, 1),
    ("1m", Unit.MINUTE, 1),
    ("3m", Unit.MINUTE, 3),
    ("5m", Unit.MINUTE, 5),
    ("15m", Unit.MINUTE, 15),
    ("30m", Unit.MINUTE, 30),
    ("1h", Unit.HOUR, 1),
    ("2h", Unit.HOUR, 2),
    ("4h", Unit.HOUR, 4),
    ("6h", Unit.HOUR, 6),
    ("8h", Unit.HOUR, 8),
    ("12h", Unit.HOUR, 12),
    ("1d", Unit.DAY, 1),
    ("3d", Unit.DAY, 3),
    ("1w", Unit.WEEK, 1),
    ("1M", Unit.MONTH, 1),
)
INTERVALS: Final[tuple[Interval, ...]] = tuple(Interval(c, u, n) for c, u, n in _SPECS)
INTERVAL_CODES: Final[tuple[str, ...]] = tuple(i.code for i in INTERVALS)
_BY_CODE: Final[dict[str, Interval]] = {i.code: i for i in INTERVALS}
