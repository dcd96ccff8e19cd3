"""Which pages of ``GET /candles`` make up a range of candles, and how they join (pure).

The hub answers ``before=T&limit=N`` with the newest ``N`` candles opening before ``T``,
oldest first and continuous. So a range is read from its end backwards, each page ending
where the previous one began (``before`` is exclusive: no candle comes twice), until the
range's start is reached or the hub has nothing older: a short page. This works the same
whether the hub answers from its buffer only or fetches older history from the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from marketcast.client.series import Candle

MS_THRESHOLD = 100_000_000_000
"""The hub's rule: a time of this or more is in milliseconds, else in seconds."""

DEFAULT_LIMIT = 500
"""Candles of a range with neither ``start`` nor ``limit``: the hub's own default."""

Moment = int | float | datetime


def to_seconds(moment: Moment) -> int:
    """An epoch in seconds or milliseconds (the hub's rule), or a datetime (naive is UTC)."""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return int(aware.timestamp())
    return int(moment // 1000) if moment >= MS_THRESHOLD else int(moment)


@dataclass
class HistoryPager:
    """Candles opening in ``[start, end)`` (either open), at most the newest ``limit``.

    Ask :meth:`next_request` for a page's query, hand the answer to :meth:`take`, and
    repeat until :attr:`done`; :meth:`candles` is the range, oldest first.
    """

    start: int | None = None
    end: int | None = None
    limit: int | None = None
    page_size: int = 1000
    done: bool = False
    _rows: dict[int, Candle] = field(default_factory=dict, repr=False)
    _before: int | None = None
    _asked: int = 0

    def __post_init__(self) -> None:
        if self.limit is None and self.start is None:
            self.limit = DEFAULT_LIMIT
        self._before = self.end
        if self.limit is not None and self.limit <= 0:
            self.done = True
        if self.start is not None and self.end is not None and self.start >= self.end:
            self.done = True

    def next_request(self) -> dict[str, int]:
        """The ``limit`` and ``before`` of the next page."""
        ask = self.page_size
        if self.limit is not None:
            ask = min(ask, self.limit - len(self._rows))
        self._asked = ask
        params = {"limit": ask}
        if self._before is not None:
            params["before"] = self._before
        return params

    def take(self, page: list[Candle]) -> None:
        """Join one page (oldest first) to what is held; an empty page ends the range."""
        for candle in page:
            if self._wanted(candle.time):
                self._rows[candle.time] = candle
        oldest = page[0].time if page else None
        if (
            oldest is None
            or len(page) < self._asked
            or (self.start is not None and oldest <= self.start)
            or (self.limit is not None and len(self._rows) >= self.limit)
            or (self._before is not None and oldest >= self._before)  # no progress
        ):
            self.done = True
        else:
            self._before = oldest

    def _wanted(self, time: int) -> bool:
        if self.start is not None and time < self.start:
            return False
        return self.end is None or time < self.end

    def candles(self) -> list[Candle]:
        ordered = [self._rows[time] for time in sorted(self._rows)]
        return ordered if self.limit is None else ordered[max(0, len(ordered) - self.limit) :]
