"""The simulated order book: a pure function of (seed, symbol, 100 ms slot).

Time is cut into 100 ms slots; the book "as of" a slot is built from the tape's last
trade price at the slot's open, so it never depends on trades still to come. Each side
has :data:`BOOK_LEVELS` levels on a fixed price grid (a step of about 0.01% of the
symbol's base price, never less than one tick): bids on the grid points strictly below
the price, asks strictly above. A level's quantity is a hash of (side, price, epoch),
where every grid price has its own refresh period and phase, so a few levels change in
every slot and the whole book drifts as the price moves.

Every slot is one change batch with one update id: ``update_id = slot - listing_slot + 1``.
A diff event covering slots ``(a, b]`` therefore carries ``U = id(a) + 1`` and
``u = id(b)``, and consecutive events chain ``U = previous u + 1`` exactly as Binance's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from marketcast.exchanges.sim.hashing import key_hash, mix64
from marketcast.exchanges.sim.tape import Tape
from marketcast.exchanges.sim.tradelog import last_price

SLOT_MS: Final = 100
BOOK_LEVELS: Final = 100
"""Levels per side: a ``/depth`` snapshot with ``limit >= 100`` is the whole book."""
_MIN_PERIOD: Final = 5
_PERIOD_SPREAD: Final = 60
_MEMO_SIZE: Final = 64

Level = tuple[int, int]
"""(price in ticks, quantity in lots)."""


@dataclass(frozen=True, slots=True)
class BookState:
    """One symbol's book after update ``update_id``; bids best (highest) first, asks best
    (lowest) first."""

    symbol: str
    update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class BookDiff:
    """What changed from one state to a later one; quantity 0 removes a level."""

    first_id: int
    last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def empty(self) -> bool:
        return not self.bids and not self.asks


class BookModel:
    """The deterministic book of one symbol of ``tape``."""

    def __init__(self, tape: Tape, symbol: str) -> None:
        spec = tape.spec(symbol)
        self.symbol = symbol
        self._tape = tape
        self._key = key_hash(tape.seed, symbol, "book")
        self._step = max(1, spec.base_price_ticks // 10_000)
        self._mean_qty = max(1, spec.daily_volume_lots // max(1, spec.daily_trades))
        self._first_slot = tape.listing_ms(symbol) // SLOT_MS
        self._memo: dict[int, BookState] = {}

    def update_id(self, at_ms: int) -> int:
        """Id of the last change batch applied by ``at_ms``."""
        return at_ms // SLOT_MS - self._first_slot + 1

    def at(self, at_ms: int) -> BookState:
        """The book as of virtual time ``at_ms``."""
        return self.by_id(self.update_id(at_ms))

    def by_id(self, update_id: int) -> BookState:
        """The book right after update ``update_id`` (1 is the listing's first slot)."""
        found = self._memo.get(update_id)
        if found is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            found = self._memo[update_id] = self._build(update_id)
        return found

    def diff(self, old_id: int, new_id: int) -> BookDiff:
        """The changes taking the book from after ``old_id`` to after ``new_id``."""
        old, new = self.by_id(old_id), self.by_id(new_id)
        return BookDiff(
            old_id + 1,
            new_id,
            _side_diff(old.bids, new.bids, best_first_is_highest=True),
            _side_diff(old.asks, new.asks, best_first_is_highest=False),
        )

    def _build(self, update_id: int) -> BookState:
        slot = update_id - 1 + self._first_slot
        price = last_price(self._tape, self.symbol, slot * SLOT_MS)
        step = self._step
        top_bid = (price - 1) // step * step
        bottom_ask = (price // step + 1) * step
        bids = [top_bid - i * step for i in range(BOOK_LEVELS)]
        asks = [bottom_ask + i * step for i in range(BOOK_LEVELS)]
        return BookState(
            self.symbol,
            update_id,
            tuple((p, self._quantity(0, p, slot)) for p in bids if p > 0),
            tuple((p, self._quantity(1, p, slot)) for p in asks),
        )

    def _quantity(self, side: int, price: int, slot: int) -> int:
        level = mix64(self._key ^ (price << 1 | side))
        period = _MIN_PERIOD + level % _PERIOD_SPREAD
        epoch = (slot + (level >> 8) % period) // period
        draw = mix64(level ^ epoch) >> 40  # 24 bits
        return 1 + self._mean_qty * (draw % 4000) // 200


def _side_diff(
    old: tuple[Level, ...], new: tuple[Level, ...], *, best_first_is_highest: bool
) -> tuple[Level, ...]:
    before = dict(old)
    after = dict(new)
    changed = [(p, q) for p, q in new if before.get(p) != q]
    removed = [(p, 0) for p in before if p not in after]
    return tuple(sorted(changed + removed, reverse=best_first_is_highest))
