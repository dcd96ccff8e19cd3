"""One side of an order book: exact price levels, read best first (pure)."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice

Level = tuple[Decimal, Decimal]
"""``(price, quantity)``; exact decimals as the exchange sent them."""


class BookSide:
    """One side of a book: price -> quantity, with the prices kept sorted for best-first reads.

    Only :class:`OrderBook` changes a side; everyone else reads it.
    """

    __slots__ = ("_descending", "_prices", "_quantities")

    def __init__(self, *, descending: bool) -> None:
        self._descending = descending
        self._prices: list[Decimal] = []  # ascending; bids read it from the end
        self._quantities: dict[Decimal, Decimal] = {}

    def __len__(self) -> int:
        return len(self._prices)

    def __iter__(self) -> Iterator[Level]:
        """Levels from the best price outwards (highest bid, lowest ask first)."""
        prices = reversed(self._prices) if self._descending else iter(self._prices)
        quantities = self._quantities
        return ((price, quantities[price]) for price in prices)

    def best(self) -> Level | None:
        return next(iter(self), None)

    def top(self, limit: int) -> list[Level]:
        """The ``limit`` best levels, best first."""
        return list(islice(self, limit))

    def quantity(self, price: Decimal) -> Decimal | None:
        return self._quantities.get(price)

    def set_level(self, price: Decimal, quantity: Decimal) -> None:
        """Set the absolute quantity at ``price``; zero removes the level (absent is fine)."""
        if not quantity:
            if self._quantities.pop(price, None) is not None:
                del self._prices[bisect_left(self._prices, price)]
            return
        if price not in self._quantities:
            insort(self._prices, price)
        self._quantities[price] = quantity

    def load(self, levels: Iterable[Level]) -> None:
        self.clear()
        for price, quantity in levels:
            if quantity:
                self._quantities[price] = quantity
        self._prices = sorted(self._quantities)

    def refresh(self, levels: Iterable[Level]) -> bool:
        """Take a snapshot of this side *at the book's own update id*: its levels are
        the truth from the best price down to its deepest one; what the side holds
        beyond that is kept. Return whether anything changed.

        A local side only learns of levels through diffs, so deletions inside its depth
        shrink it while the exchange's deeper levels move up unseen; an equal-id snapshot
        restores them without disturbing the sequence the book follows.
        """
        fresh = {price: quantity for price, quantity in levels if quantity}
        if not fresh:
            return False  # an empty side says nothing about how deep it reaches
        deepest = min(fresh) if self._descending else max(fresh)
        sign = -1 if self._descending else 1  # further from the best price: lower bids
        merged = {
            price: quantity
            for price, quantity in self._quantities.items()
            if (price - deepest) * sign > 0
        } | fresh
        if merged == self._quantities:
            return False
        self._quantities = merged
        self._prices = sorted(merged)
        return True

    def clear(self) -> None:
        self._prices = []
        self._quantities = {}
