"""The trade tape: the newest trades of one symbol, continuous by id, and their display form.

Trades arrive from REST history, from the live stream and from gap fills, in any order
and with repeats. :class:`TradeTape` keeps the newest ``capacity`` trades by id, reports
which ids are still missing inside that window (what the shell fetches from REST
``aggTrades?fromId=`` or ``trades``), and tells the caller which trades were new so only
those are pushed to clients. Ids that REST proved never existed (:func:`proven_absent`)
are marked unfillable and no longer count as missing. :func:`trade_payload` is one trade
as OrderFox's ``trades_update`` lists it.

Pure: no I/O and no clock; every time is a UTC epoch in milliseconds taken from the trade.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from marketcast.domain.formatting import format_amount, format_price
from marketcast.domain.intervals import DAY_MS, SECOND_MS

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class Trade:
    """One (aggregate) trade; ``id`` increases with time on one symbol and market."""

    id: int
    price: Decimal
    quantity: Decimal
    buyer_is_maker: bool
    time_ms: int

    @property
    def side(self) -> Side:
        """The taker's side: the buyer was the maker, so the aggressor sold -> ``"sell"``;
        otherwise the aggressor bought -> ``"buy"`` (the usual tape colouring)."""
        return "sell" if self.buyer_is_maker else "buy"


class TradeTape:
    """The newest ``capacity`` trades by id, de-duplicated, tolerant of any arrival order.

    Gaps are only worth filling inside the id window ``newest - capacity + 1 .. newest``:
    an id below it would be evicted as soon as the window filled up, so
    :meth:`missing_ids` never asks for it. For the same reason unfillable marks are
    forgotten once the window has passed them, which keeps them bounded.

    A gap the window passes before it was filled (an outage longer than the tape holds, or
    REST failing while trades kept coming) is a *break*: those trades will never be held,
    so whoever follows the tape has a hole. :attr:`breaks` counts them, so the owner can
    tell its followers to start over.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._ids: list[int] = []  # ascending
        self._by_id: dict[int, Trade] = {}
        self._unfillable: list[tuple[int, int]] = []  # ascending, disjoint, not adjacent
        self.breaks = 0
        self._abandoned_to = -1  # ids up to here are settled as breaks, counted once

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, trades: Iterable[Trade]) -> list[Trade]:
        """Insert ``trades``; return the ones not held before and still held now, by id.

        A repeated id keeps the first copy (a trade never changes once it happened).
        """
        added = [trade for trade in trades if self._insert(trade)]
        self._forget_passed_marks()
        return sorted((t for t in added if t.id in self._by_id), key=lambda t: t.id)

    def fill(self, trades: Iterable[Trade]) -> list[Trade]:
        """Insert REST results fetched for :meth:`missing_ids`; same rules as :meth:`add`."""
        return self.add(trades)

    def mark_unfillable(self, first: int, last: int) -> None:
        """Record that ids ``first..last`` (inclusive) never existed, so they are no
        longer reported missing. A trade that does arrive there is still taken."""
        marks = sorted([*self._unfillable, (first, last)])
        merged: list[tuple[int, int]] = []
        for low, high in marks:
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        self._unfillable = merged
        self._forget_passed_marks()

    def unfillable_ids(self) -> list[tuple[int, int]]:
        """The marked ranges that still reach into the window, ascending."""
        floor = self._floor()
        return [(max(low, floor), high) for low, high in self._unfillable if high >= floor]

    def missing_ids(self) -> list[tuple[int, int]]:
        """Inclusive id ranges absent between the oldest held id (or the window start,
        whichever is newer) and the newest held id, ascending, without the ids marked
        unfillable."""
        if not self._ids:
            return []
        floor = self._floor()
        start = bisect.bisect_left(self._ids, floor)
        gaps: list[tuple[int, int]] = []
        expected = floor
        for trade_id in self._ids[start:]:
            if trade_id > expected:
                gaps.extend(_without(expected, trade_id - 1, self._unfillable))
            expected = trade_id + 1
        return gaps

    def newest(self, limit: int) -> list[Trade]:
        """Up to ``limit`` trades, newest first."""
        if limit <= 0:
            return []
        return [self._by_id[i] for i in reversed(self._ids[-limit:])]

    def _floor(self) -> int:
        """The oldest id worth holding: the oldest held, or the window start if newer."""
        if not self._ids:
            return 0
        return max(self._ids[0], self._ids[-1] - self.capacity + 1)

    def _forget_passed_marks(self) -> None:
        floor = self._floor()
        while self._unfillable and self._unfillable[0][1] < floor:
            del self._unfillable[0]

    def _insert(self, trade: Trade) -> bool:
        if trade.id in self._by_id:
            return False
        if len(self._ids) >= self.capacity and trade.id < self._ids[0]:
            return False  # older than everything kept, and no room
        newest = self._ids[-1] if self._ids else None
        bisect.insort(self._ids, trade.id)
        self._by_id[trade.id] = trade
        if newest is not None and trade.id > newest + self.capacity:
            # The window jumped past the whole gap at once: none of it can be filled.
            self._abandon(newest + 1, trade.id - self.capacity)
        if len(self._ids) > self.capacity:
            evicted = self._ids.pop(0)
            del self._by_id[evicted]
            self._abandon(evicted + 1, self._ids[0] - 1)
        return True

    def _abandon(self, first: int, last: int) -> None:
        """Count a break if ids ``first..last``, now below the window, were never held
        (and are not known never to have existed)."""
        first = max(first, self._abandoned_to + 1)
        if first <= last and _without(first, last, self._unfillable):
            self.breaks += 1
        self._abandoned_to = max(self._abandoned_to, last)


def proven_absent(first: int, last: int, answer: Sequence[int]) -> list[tuple[int, int]]:
    """Id ranges inside ``first..last`` that a REST answer to ``fromId=first`` proves absent.

    REST lists the existing ids from ``first`` on, ascending and without skipping any, so
    every id it passed over up to the last one it returned never existed. Past the last
    returned id nothing is proven (the answer may just have hit its limit), and an empty
    answer proves nothing at all: REST may lag the stream by a moment, and marking ids the
    stream has just passed as absent would drop real trades for good. The gap is retried
    instead, and a later answer that reaches past it settles it.

    Args:
        first: the range start, sent as ``fromId``.
        last: the range end (inclusive).
        answer: the ids REST returned, ascending.
    """
    if not answer:
        return []
    return _without(first, min(last, answer[-1]), _runs(answer))


def _runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Ascending ids grouped into inclusive runs of consecutive ids."""
    runs: list[tuple[int, int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _without(first: int, last: int, ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``first..last`` minus ``ranges`` (ascending, disjoint), as inclusive ranges."""
    left: list[tuple[int, int]] = []
    start = first
    for low, high in ranges:
        if high < start or low > last:
            continue
        if low > start:
            left.append((start, low - 1))
        start = high + 1
    if start <= last:
        left.append((start, last))
    return left


def time_of_day(time_ms: int) -> str:
    """``"HH:MM:SS"`` in UTC, as the OrderFox tape and liquidation table show times."""
    seconds = time_ms % DAY_MS // SECOND_MS
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def trade_payload(trade: Trade, price_precision: int, amount_precision: int) -> dict[str, Any]:
    """One entry of ``trades_update.trades``: numbers as JSON numbers, plus display strings."""
    return {
        "id": trade.id,
        "price": float(trade.price),
        "amount": float(trade.quantity),
        "side": trade.side,
        "timestamp": trade.time_ms,
        "price_formatted": format_price(trade.price, price_precision),
        "amount_formatted": format_amount(trade.quantity, amount_precision),
        "time_formatted": time_of_day(trade.time_ms),
    }
