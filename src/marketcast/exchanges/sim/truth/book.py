"""The simulated order book: a pure function of (seed, symbol, 100 ms slot).

Time is cut into 100 ms slots; the book "as of" a slot is built from the tape's last
trade price at the slot's open, so it never depends on trades still to come. Each side
has :data:`BOOK_LEVELS` levels on a fixed price grid (a step of about 0.01% of the
symbol's base price, never less than one tick): bids on the grid points strictly below
the price, asks strictly above. A level's quantity is a hash of (side, price, epoch),
where every grid price has its own refresh period and phase, so a few levels change in
every slot and the whole book drifts as the price moves.

Prices are kept in tenths of a tick (:data:`PRICE_SCALE`). About one grid point in
:data:`OFF_TICK_ONE_IN` rests a fraction of a tick above the grid, as real books carry
orders between ticks (placed before a tick size change, or by market makers on coarse
symbols): the hub must hold them exactly, and only its rounded views merge them.

Every slot is one change batch with one update id: ``update_id = slot - listing_slot + 1``.
A diff event covering slots ``(a, b]`` therefore carries ``U = id(a) + 1`` and
``u = id(b)``, and consecutive events chain ``U = previous u + 1`` exactly as Binance's do
(futures events also carry ``pu``, the previous ``u``). A diff names every level touched
in between, so a snapshot taken anywhere inside an event still leads to the later book.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from marketcast.domain.intervals import SECOND_MS
from marketcast.exchanges.sim.truth.hashing import key_hash, mix64
from marketcast.exchanges.sim.truth.tape import Tape
from marketcast.exchanges.sim.truth.tradelog import last_price

SLOT_MS: Final = 100
BOOK_LEVELS: Final = 100
"""Levels per side: a ``/depth`` snapshot with ``limit >= 100`` is the whole book."""
_MIN_PERIOD: Final = 5
_PERIOD_SPREAD: Final = 60
_MEMO_SIZE: Final = 64
PRICE_SCALE: Final = 10
"""Book prices are integers in ``1 / PRICE_SCALE`` of a tick."""
PRICE_DIGITS: Final = 1
"""Decimals a book price has beyond the symbol's tick: ``PRICE_SCALE == 10**PRICE_DIGITS``."""
OFF_TICK_ONE_IN: Final = 16

Level = tuple[int, int]
"""(price in tenths of a tick, quantity in lots)."""


@dataclass(frozen=True, slots=True)
class BookState:
    """One symbol's book after update ``update_id``, made at virtual time ``time`` (its
    slot's open); bids best (highest) first, asks best (lowest) first."""

    symbol: str
    update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    time: int


@dataclass(frozen=True, slots=True)
class BookDiff:
    """What changed from one state to a later one; quantity 0 removes a level. ``time``
    is when the last change batch was made (a futures event's ``T``)."""

    first_id: int
    last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    time: int

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
        """Every level touched from after ``old_id`` to after ``new_id``, at its value
        after ``new_id`` (0: gone).

        Like Binance's diffs it names every level that changed at any point in between,
        not only those that differ at the two ends: a level that appeared and vanished
        again is sent as 0. That is what lets a futures client, whose snapshot may lie
        *inside* the first event (``U <= lastUpdateId <= u``), land exactly on ``new_id``.
        Sending a level that did not change is harmless (its value is final), so the
        price range is bounded from the tape's high and low rather than slot by slot.
        """
        old, new = self.by_id(old_id), self.by_id(new_id)
        slots = (self._slot(old_id), self._slot(new_id))
        low, high = self._price_range(*slots)
        return BookDiff(
            old_id + 1,
            new_id,
            self._touched(
                0,
                (old.bids, new.bids),
                (_bid_window(low, self._step), _bid_window(high, self._step)),
                slots,
            ),
            self._touched(
                1,
                (old.asks, new.asks),
                (_ask_window(low, self._step), _ask_window(high, self._step)),
                slots,
            ),
            new.time,
        )

    def _slot(self, update_id: int) -> int:
        return update_id - 1 + self._first_slot

    def _price_range(self, first_slot: int, last_slot: int) -> tuple[int, int]:
        """(low, high) bounding the price each slot from ``first_slot`` to ``last_slot``
        opened at: the last trade at or before a time is in that time's second."""
        start = first_slot * SLOT_MS // SECOND_MS * SECOND_MS
        end_time = last_slot * SLOT_MS
        bar = self._tape.span(
            self.symbol, start, end_time // SECOND_MS * SECOND_MS + SECOND_MS, end_time
        )
        assert bar is not None  # every second trades at its first millisecond
        return bar.low, bar.high

    def _touched(
        self,
        side: int,
        ends: tuple[tuple[Level, ...], tuple[Level, ...]],
        windows: tuple[tuple[int, int], tuple[int, int]],
        slots: tuple[int, int],
    ) -> tuple[Level, ...]:
        """Levels of one side that may have changed; ``windows`` are the side's price
        windows at the lowest and the highest price of the span."""
        before, after = dict(ends[0]), dict(ends[1])
        (low_first, low_last), (high_first, high_last) = windows
        changed: list[Level] = []
        for price in range(low_first, high_last + 1, self._step):
            if price <= 0:
                continue
            placed = self._placed(price)
            quantity = after.get(placed, 0)
            # Inside every window the level existed throughout; with one epoch its
            # quantity never changed either.
            steady = high_first <= price <= low_last and self._epoch(
                side, price, slots[0]
            ) == self._epoch(side, price, slots[1])
            if not steady or before.get(placed, 0) != quantity:
                changed.append((placed, quantity))
        return tuple(sorted(changed, reverse=side == 0))

    def _build(self, update_id: int) -> BookState:
        slot = self._slot(update_id)
        price = last_price(self._tape, self.symbol, slot * SLOT_MS)
        bid_low, bid_high = _bid_window(price, self._step)
        ask_low, ask_high = _ask_window(price, self._step)
        bids = range(bid_high, bid_low - 1, -self._step)
        asks = range(ask_low, ask_high + 1, self._step)
        return BookState(
            self.symbol,
            update_id,
            tuple((self._placed(p), self._quantity(0, p, slot)) for p in bids if p > 0),
            tuple((self._placed(p), self._quantity(1, p, slot)) for p in asks),
            slot * SLOT_MS,
        )

    def _placed(self, price: int) -> int:
        """Where the level of grid price ``price`` (ticks) rests, in tenths of a tick.

        The offset stays below one tick, so bids stay below the last price, asks above
        it, and every side keeps its grid order."""
        draw = mix64(self._key ^ (price << 2 | 3))
        offset = (
            1 + draw % (PRICE_SCALE - 1) if draw >> 32 & 0xFFFF < 0x10000 // OFF_TICK_ONE_IN else 0
        )
        return price * PRICE_SCALE + offset

    def _level_key(self, side: int, price: int) -> tuple[int, int]:
        level = mix64(self._key ^ (price << 1 | side))
        return level, _MIN_PERIOD + level % _PERIOD_SPREAD

    def _epoch(self, side: int, price: int, slot: int) -> int:
        level, period = self._level_key(side, price)
        return (slot + (level >> 8) % period) // period

    def _quantity(self, side: int, price: int, slot: int) -> int:
        level, _ = self._level_key(side, price)
        draw = mix64(level ^ self._epoch(side, price, slot)) >> 40  # 24 bits
        return 1 + self._mean_qty * (draw % 4000) // 200


def _bid_window(price: int, step: int) -> tuple[int, int]:
    """(lowest, highest) bid price when the last trade was at ``price``: the
    :data:`BOOK_LEVELS` grid points strictly below it."""
    top = (price - 1) // step * step
    return top - (BOOK_LEVELS - 1) * step, top


def _ask_window(price: int, step: int) -> tuple[int, int]:
    """(lowest, highest) ask price: the grid points strictly above ``price``."""
    bottom = (price // step + 1) * step
    return bottom, bottom + (BOOK_LEVELS - 1) * step
