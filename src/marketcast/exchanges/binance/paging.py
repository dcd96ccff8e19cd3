"""Paging math for ``GET .../klines`` and the rule that decides which rows are final.

Binance returns at most ``MarketSpec.max_klines_per_call`` rows per call (spot
:data:`MAX_KLINES_PER_CALL`, USD-M futures 1500): with ``startTime`` the oldest rows
from there on, with only ``endTime`` the newest rows up to it. Pages are walked
forwards for a range and backwards for "the latest N".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.intervals import Interval
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.markets import SPOT

MAX_KLINES_PER_CALL: Final = SPOT.max_klines_per_call


def next_page_start(rows: Sequence[Candle], interval: Interval) -> int | None:
    """``startTime`` of the page after ``rows`` (paging forwards); ``None`` when empty."""
    if not rows:
        return None
    return interval.next_open(rows[-1].open_time)


def previous_page_end(rows: Sequence[Candle]) -> int | None:
    """``endTime`` of the page before ``rows`` (paging backwards); ``None`` when empty."""
    if not rows:
        return None
    return rows[0].open_time - 1


def range_end_time(rng: TimeRange, interval: Interval) -> int:
    """``endTime`` that includes the candle opening at ``rng.last`` and nothing after it.

    The last candle's close time is used so the range is right whether the server
    compares ``endTime`` with open or with close times.
    """
    return interval.close_time(rng.last)


def check_advances(page_start: int, rows: Sequence[Candle]) -> None:
    """Refuse a page that would make forward paging loop forever."""
    if rows and rows[-1].open_time < page_start:
        raise ExchangeProtocolError(
            f"klines page asked from {page_start} ended at {rows[-1].open_time}"
        )


def merge_pages(pages: Iterable[Sequence[Candle]], rng: TimeRange | None = None) -> list[Candle]:
    """All rows of ``pages`` sorted by open time, one per open time, inside ``rng``.

    Overlapping pages repeat a row; the later page's version wins since it is fresher.
    """
    by_time: dict[int, Candle] = {}
    for page in pages:
        for candle in page:
            if rng is None or rng.contains(candle.open_time):
                by_time[candle.open_time] = candle
    return [by_time[t] for t in sorted(by_time)]


def mark_closed(
    rows: Sequence[Candle], interval: Interval, closed_before: int | None
) -> list[Candle]:
    """Set ``closed`` on REST rows, which Binance does not flag.

    A row is closed when its close time is before ``closed_before`` (typically the
    exchange's current time). Without ``closed_before`` every row but the newest is
    closed and the newest counts as forming: a closed candle wrongly marked forming is
    merely fetched again later, while a forming one marked closed would freeze a stale
    candle.
    """
    if closed_before is None:
        last = len(rows) - 1
        return [_with_closed(row, i < last) for i, row in enumerate(rows)]
    return [_with_closed(row, interval.close_time(row.open_time) < closed_before) for row in rows]


def _with_closed(row: Candle, closed: bool) -> Candle:
    if row.closed == closed:
        return row
    # The constructor, not dataclasses.replace: a bootstrap marks 1000 rows per topic
    # and replace's field introspection was a tenth of a cold start.
    o, h, lo, c, v, q = row.open, row.high, row.low, row.close, row.volume, row.quote_volume
    return Candle(row.open_time, o, h, lo, c, v, q, row.trades, closed)
