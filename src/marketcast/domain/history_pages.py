"""Older history in fixed pages, and what an answer built from them covers (pure).

A topic keeps only its newest candles; older ranges come from the exchange. They are
fetched in *pages*: aligned blocks of :data:`PAGE_CANDLES` open times, counted from the
interval's first open time at or before the epoch. Whatever range a client asks for, the
pages it touches are the same keys for every client, so a thousand charts scrolling back
over the same hours cost the exchange one request per page, and a cache can hold them.

A page is complete once every candle in it has closed; the page that reaches into the
present (or into the topic's own buffer) is held only *through* its newest closed open
time and extended when a request needs more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.intervals import Interval
from marketcast.domain.series import absent_ranges

PAGE_CANDLES: Final = 1000
"""Open times per page: one exchange request on either market (spot serves 1000 rows per
call, USD-M 1500)."""


def page_of(interval: Interval, open_ms: int) -> TimeRange:
    """The page holding the candle that opens at (or contains) ``open_ms``."""
    anchor = interval.floor(0)
    index = interval.steps_between(anchor, interval.floor(open_ms)) // PAGE_CANDLES
    first = interval.shifted(anchor, index * PAGE_CANDLES)
    return TimeRange(first, interval.shifted(first, PAGE_CANDLES - 1))


def previous_page(interval: Interval, page: TimeRange) -> TimeRange:
    return page_of(interval, interval.prev_open(page.first))


def next_page(interval: Interval, page: TimeRange) -> TimeRange:
    return page_of(interval, interval.next_open(page.last))


@dataclass(frozen=True, slots=True)
class Page:
    """The exchange's candles of one page, every one closed, known complete from the
    page's first open time ``through`` this one (inclusive)."""

    candles: tuple[Candle, ...]
    through: int


@dataclass(frozen=True, slots=True)
class Older:
    """Candles older than a buffer, oldest first, with what the answer covers.

    ``gaps``: open times inside the answered span where the exchange has no candle (an
    exchange outage, reported rather than papered over). ``reached_first``: the answer
    starts at the symbol's first candle, so there is nothing older to ask for.
    """

    candles: list[Candle]
    gaps: list[TimeRange]
    reached_first: bool


def answer(
    candles: Sequence[Candle], span: TimeRange | None, first_open: int, interval: Interval
) -> Older:
    """``candles`` as an :class:`Older` covering ``span`` (``None``: nothing covered)."""
    if span is None:
        return Older(list(candles), [], reached_first=False)
    gaps = absent_ranges(span, (c.open_time for c in candles), interval)
    return Older(list(candles), gaps, reached_first=span.first <= first_open)
