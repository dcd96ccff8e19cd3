"""A local copy of one order book, kept exact from a snapshot and the changes after it.

The hub's ``depth`` channel sends the book it holds, level for level, as the exchange's
decimal strings, then changes that each continue the previous one
(``first_update_id == last_update_id + 1``): set each named level to its quantity, delete
it at zero. Prices and quantities stay :class:`~decimal.Decimal`, so nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from marketcast.client.errors import HubError, OutOfSync

Level = tuple[Decimal, Decimal]
"""``(price, quantity)``."""


def parse_levels(rows: Iterable[Sequence[str]]) -> list[Level]:
    """``[["60123.41000000", "0.81230000"], ...]`` as exact decimals."""
    return [(Decimal(price), Decimal(quantity)) for price, quantity in rows]


def parse_view_levels(rows: Iterable[Mapping[str, Any]]) -> list[Level]:
    """The aggregated view's ``[{"price": 60123.0, "amount": 0.7001, ...}, ...]``.

    A JSON number is read by its shortest form, which is the decimal the hub wrote.
    """
    return [
        (Decimal(repr(float(row["price"]))), Decimal(repr(float(row["amount"])))) for row in rows
    ]


class OrderBook:
    """Bids and asks by price; read them best first through :attr:`bids` and :attr:`asks`.

    ``exact`` is ``False`` when the book is the hub's aggregated view (price buckets, a
    limited number of levels) instead of the exact book: a hub without the ``depth``
    channel serves only that.
    """

    def __init__(self) -> None:
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._sorted: tuple[list[Level], list[Level]] | None = None
        self.last_update_id: int | None = None
        self.exact = True

    def load(
        self, bids: Iterable[Level], asks: Iterable[Level], last_update_id: int, *, exact: bool
    ) -> None:
        """Replace everything held with a snapshot at ``last_update_id``."""
        self._bids = {price: quantity for price, quantity in bids if quantity}
        self._asks = {price: quantity for price, quantity in asks if quantity}
        self._sorted = None
        self.last_update_id = last_update_id
        self.exact = exact

    def apply(
        self,
        first_update_id: int,
        last_update_id: int,
        bids: Iterable[Level],
        asks: Iterable[Level],
    ) -> None:
        """Apply one change; raise :class:`OutOfSync` if it does not continue the book."""
        if self.last_update_id is None or first_update_id != self.last_update_id + 1:
            raise OutOfSync(
                f"change {first_update_id}..{last_update_id} does not continue the book "
                f"at {self.last_update_id}"
            )
        for held, levels in ((self._bids, bids), (self._asks, asks)):
            for price, quantity in levels:
                if quantity:
                    held[price] = quantity
                else:  # may name a level never held: one that came and went
                    held.pop(price, None)
        self._sorted = None
        self.last_update_id = last_update_id

    def clear(self) -> None:
        self.load((), (), 0, exact=self.exact)
        self.last_update_id = None

    def _sides(self) -> tuple[list[Level], list[Level]]:
        if self._sorted is None:
            self._sorted = (
                sorted(self._bids.items(), reverse=True),
                sorted(self._asks.items()),
            )
        return self._sorted

    @property
    def bids(self) -> list[Level]:
        """Bids, highest price first."""
        return list(self._sides()[0])

    @property
    def asks(self) -> list[Level]:
        """Asks, lowest price first."""
        return list(self._sides()[1])

    @property
    def best_bid(self) -> Level | None:
        bids = self._sides()[0]
        return bids[0] if bids else None

    @property
    def best_ask(self) -> Level | None:
        asks = self._sides()[1]
        return asks[0] if asks else None


class BookChannel:
    """``depth`` (the exact book), or ``orderbook`` (the aggregated view) on a hub that
    refuses ``depth``.

    The depth channel has no resume point: every subscribe answers with the whole book,
    which replaces what is held. So a reconnect, a change that does not chain and a hub
    resync (a snapshot flagged ``reset``) all end the same way, with a fresh snapshot.
    """

    def __init__(self, symbol: str, market: str | None) -> None:
        self.symbol, self.market = symbol, market
        self.book = OrderBook()
        self.use_depth = True
        self.synced = False
        self.snapshots = 0

    @property
    def channel(self) -> str:
        return "depth" if self.use_depth else "orderbook"

    def subscription(self) -> dict[str, Any]:
        self.synced = False
        message: dict[str, Any] = {"op": "subscribe", "channel": self.channel}
        message["symbol"] = self.symbol
        return message if self.market is None else message | {"market": self.market}

    def receive(self, message: dict[str, Any]) -> list[OrderBook]:
        if message.get("channel") != self.channel:
            return []
        kind = message.get("type")
        if kind == "snapshot" and self.use_depth:
            bids, asks = parse_levels(message["bids"]), parse_levels(message["asks"])
            self.book.load(bids, asks, int(message["last_update_id"]), exact=True)
        elif kind in ("snapshot", "orderbook") and not self.use_depth:
            bids, asks = parse_view_levels(message["bids"]), parse_view_levels(message["asks"])
            self.book.load(bids, asks, int(message.get("update_id") or 0), exact=False)
        elif kind == "depth" and self.synced:
            self._apply(message)
            return [self.book]
        else:  # a change of a subscription replaced since, or a message of no book
            return []
        self.synced = True
        self.snapshots += 1
        return [self.book]

    def _apply(self, message: dict[str, Any]) -> None:
        try:
            self.book.apply(
                int(message["first_update_id"]),
                int(message["last_update_id"]),
                parse_levels(message["bids"]),
                parse_levels(message["asks"]),
            )
        except OutOfSync:
            self.synced = False  # what follows belongs to the old subscription
            raise

    def refused(self, error: HubError) -> bool:
        if self.use_depth and error.code == "unknown_channel":
            self.use_depth = False  # a hub from before the exact book
            return True
        return False

    def disconnected(self) -> None:
        self.synced = False
