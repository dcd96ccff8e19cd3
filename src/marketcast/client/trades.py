"""Trades as the hub serves them, and the tape a follower keeps of one symbol."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class Trade:
    """One aggregate trade: ``side`` is the taker's, ``timestamp`` the trade time in ms."""

    id: int
    price: float
    amount: float
    side: Side
    timestamp: int


def parse_trade(row: Mapping[str, Any]) -> Trade:
    """A native trade row: ``{"id", "price", "amount", "side", "timestamp", ...}``."""
    side = row["side"]
    if side not in ("buy", "sell"):
        raise ValueError(f"unknown trade side {side!r}")
    return Trade(
        id=int(row["id"]),
        price=float(row["price"]),
        amount=float(row["amount"]),
        side=cast(Side, side),
        timestamp=int(row["timestamp"]),
    )


class TradeTape:
    """The newest ``keep`` trades, ascending id.

    The hub delivers a symbol's trades in id order without a hole, so the last id held is
    always the right point to resume from; a trade at or below it is a repeat.
    """

    def __init__(self, keep: int = 10_000) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._trades: deque[Trade] = deque(maxlen=keep)
        self.last_id: int | None = None

    def append(self, trade: Trade) -> bool:
        """Hold ``trade`` unless it is a repeat; return whether it was new."""
        if self.last_id is not None and trade.id <= self.last_id:
            return False
        self._trades.append(trade)
        self.last_id = trade.id
        return True

    def clear(self) -> int:
        """Drop everything (the resume point too); return how many trades were held."""
        dropped = len(self._trades)
        self._trades.clear()
        self.last_id = None
        return dropped

    def trades(self) -> list[Trade]:
        return list(self._trades)

    def __len__(self) -> int:
        return len(self._trades)
