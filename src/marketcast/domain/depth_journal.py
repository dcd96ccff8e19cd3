"""The exact book as a stream: what changed since the update id a client holds (pure).

A client of the exact book holds a copy made from one snapshot (the book at update id
``L``) and is sent, from then on, *changes*: every level any diff after ``L`` touched,
at its quantity now (``0``: gone). Because exchange diffs carry absolute quantities,
several of them merge into one change by keeping each price's latest quantity, and a
client that applies the changes in order holds the hub's book exactly.

The journal keeps the diffs the book applied, as one chain: each entry records the
update id the book was at before it. A client is at ``(epoch, update id)``; the
``epoch`` moves whenever the book's levels changed *outside* that chain (a snapshot
adopted after a break, deep levels restored from an equal-id snapshot, the book
cleared), and a client of an older epoch, or one further behind than the journal
reaches, must start over from a new snapshot.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from marketcast.domain.book_side import Level
from marketcast.domain.orderbook import BookDiff

DEFAULT_CAPACITY: Final = 600
"""Diffs kept: a minute of a 100 ms stream, far more than a push interval needs."""


@dataclass(frozen=True, slots=True)
class DepthChange:
    """The levels diffs after update ``after`` set, up to update ``last_update``; best
    first per side; a zero quantity removes the level."""

    after: int
    last_update: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class Depth:
    """The exact book as of update ``last_update``, best first, in journal ``epoch``."""

    epoch: int
    last_update: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class StartOver:
    """The client's copy cannot be brought up to date by changes: send a snapshot."""

    __slots__ = ()


START_OVER: Final = StartOver()


@dataclass(frozen=True, slots=True)
class _Entry:
    before: int
    diff: BookDiff


class DepthJournal:
    """The diffs a book applied since its levels last changed otherwise."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, not {capacity}")
        self.epoch = 0
        self._entries: deque[_Entry] = deque(maxlen=capacity)
        self._merged: dict[int, DepthChange] = {}  # by ``after``, for the newest entry

    def record(self, before: int, diff: BookDiff) -> None:
        """The book moved from update ``before`` to ``diff.final_update`` by ``diff``."""
        if self._entries and self._entries[-1].diff.final_update != before:
            self.restart()  # not the chain the journal holds: nothing older links to it
        self._entries.append(_Entry(before, diff))
        self._merged.clear()

    def restart(self) -> None:
        """The levels changed outside the diff chain: every client starts over."""
        self.epoch += 1
        self._entries.clear()
        self._merged.clear()

    def since(self, epoch: int, update_id: int) -> DepthChange | StartOver | None:
        """What a client at ``(epoch, update_id)`` lacks: ``None`` if nothing.

        Clients at the same point get the very same :class:`DepthChange` object until the
        next diff, so its encoding can be shared.
        """
        if epoch != self.epoch:
            return START_OVER
        if not self._entries or self._entries[-1].diff.final_update == update_id:
            return None
        merged = self._merged.get(update_id)
        if merged is None:
            found = self._merge(update_id)
            if found is None:
                return START_OVER
            merged = self._merged[update_id] = found
        return merged

    def _merge(self, update_id: int) -> DepthChange | None:
        tail: list[BookDiff] = []
        for entry in reversed(self._entries):
            tail.append(entry.diff)
            if entry.before == update_id:
                break
        else:
            return None  # the client is older than the journal reaches (or not on it)
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        for diff in reversed(tail):
            bids.update(diff.bids)
            asks.update(diff.asks)
        return DepthChange(
            update_id,
            tail[0].final_update,
            tuple(sorted(bids.items(), reverse=True)),
            tuple(sorted(asks.items())),
        )
