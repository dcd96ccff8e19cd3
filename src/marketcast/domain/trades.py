"""The trade tape: the newest trades of one symbol, continuous by id, and their display form.

Trades arrive from REST history, from the live stream and from gap fills, in any order
and with repeats. :class:`TradeTape` keeps the newest ``capacity`` trades by id, reports
which ids are still missing inside that window (what the shell fetches from REST
``aggTrades?fromId=`` or ``trades``), and releases trades to followers strictly in id
order: a trade past a missing id waits until the gap is filled (or proven never to have
existed, or passed by the window: a break). So a follower's copy never has a hole, and
"the last id I hold" is always a safe place to resume from. Ids that REST proved never
existed (:func:`proven_absent`) are marked unfillable and no longer count as missing.
:func:`trade_payload` is one trade as OrderFox's ``trades_update`` lists it.

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


@dataclass(frozen=True, slots=True)
class Released:
    """What :meth:`TradeTape.release` let through: ``trades`` continue the previous release
    without a hole, ascending id. ``broke`` says the window passed ids that were never
    released: whoever followed the tape has a hole and must start over from
    :meth:`TradeTape.continuous` (which already holds ``trades``)."""

    trades: list[Trade]
    broke: bool = False


class TradeTape:
    """The newest ``capacity`` trades by id, de-duplicated, tolerant of any arrival order.

    Gaps are only worth filling inside the id window ``newest - capacity + 1 .. newest``:
    an id below it would be evicted as soon as the window filled up, so
    :meth:`missing_ids` never asks for it. For the same reason unfillable marks are
    forgotten once the window has passed them, which keeps them bounded.

    Followers see the tape through :meth:`release` and :meth:`continuous`: the trades up
    to the *release frontier*, the newest id up to which every id is held or proven
    absent. A gap the window passes before it was filled (an outage longer than the tape
    holds, or REST failing while trades kept coming) moves the frontier past ids that
    will never be held: a *break*, counted in :attr:`breaks`.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._ids: list[int] = []  # ascending
        self._by_id: dict[int, Trade] = {}
        self._unfillable: list[tuple[int, int]] = []  # ascending, disjoint, not adjacent
        self._released: int | None = None  # the release frontier; None before the first
        # Whether followers may hold trades that end at the frontier: not before the first
        # release, nor after a break moved it to an id the tape does not hold.
        self._followed = False
        self.breaks = 0

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
        if len(self._ids) - start == self._ids[-1] - floor + 1:
            # Held ids are unique and sorted: as many from ``floor`` on as the range is
            # wide leaves none missing. The usual case, and /health asks it of every tape
            # on every probe; answered without walking the window.
            return []
        gaps: list[tuple[int, int]] = []
        expected = floor
        for trade_id in self._ids[start:]:
            if trade_id > expected:
                gaps.extend(_without(expected, trade_id - 1, self._unfillable))
            expected = trade_id + 1
        return gaps

    def newest(self, limit: int) -> list[Trade]:
        """Up to ``limit`` held trades, newest first (released or not)."""
        if limit <= 0:
            return []
        return [self._by_id[i] for i in reversed(self._ids[-limit:])]

    # -- what followers see -------------------------------------------------------------
    @property
    def released_to(self) -> int | None:
        """The release frontier: the newest id a follower may hold."""
        return self._released

    def release(self) -> Released:
        """Move the frontier as far as the held trades continue it and return what it
        passed. The first call starts at the oldest held trade (nobody followed before)."""
        if not self._ids:
            return Released([])
        if self._released is None:
            self._released = self._ids[0] - 1
        trades = self._walk_up()
        window_start = self._floor()
        if self._released >= window_start - 1:
            return Released(trades)
        # Stuck on ids the window has passed: they will never be held. That is a hole for
        # followers holding trades up to the frontier; followers who hold nothing since
        # the last break (a long outage passes the window trade by trade) lose nothing.
        broke = self._followed
        self._released = window_start - 1
        # Followers start over from ``continuous()``: when the new frontier's own id is
        # held they hold trades that end there, and the next skip is a hole for them too.
        self._followed = bool(self.continuous(1))
        self.breaks += broke
        return Released(trades + self._walk_up(), broke=broke)

    def continuous(self, limit: int) -> list[Trade]:
        """Up to ``limit`` trades ending at the release frontier, newest first, without a
        hole (ids proven absent excepted); empty when the frontier's own id is not held."""
        if self._released is None or limit <= 0:
            return []
        index = bisect.bisect_right(self._ids, self._released) - 1
        run: list[Trade] = []
        expected = self._released
        while index >= 0 and len(run) < limit:
            trade_id = self._ids[index]
            if trade_id != expected and not self._absent(trade_id + 1, expected):
                break
            run.append(self._by_id[trade_id])
            expected = trade_id - 1
            index -= 1
        return run

    def _walk_up(self) -> list[Trade]:
        """Take the held trades that continue the frontier and move it past them."""
        assert self._released is not None
        index = bisect.bisect_right(self._ids, self._released)
        taken: list[Trade] = []
        expected = self._released + 1
        while index < len(self._ids):
            trade_id = self._ids[index]
            if trade_id != expected and not self._absent(expected, trade_id - 1):
                break
            taken.append(self._by_id[trade_id])
            expected = trade_id + 1
            index += 1
        self._released = expected - 1
        self._followed = self._followed or bool(taken)
        return taken

    def _absent(self, first: int, last: int) -> bool:
        """Whether every id ``first..last`` is marked unfillable (marks are merged, so one
        mark must cover the whole range)."""
        return any(low <= first and last <= high for low, high in self._unfillable)

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
        bisect.insort(self._ids, trade.id)
        self._by_id[trade.id] = trade
        if len(self._ids) > self.capacity:
            del self._by_id[self._ids.pop(0)]
        return True


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
