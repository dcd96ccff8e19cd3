"""The simulator's true order book as a client of ``/depth`` sees it: Decimal levels, best
first, for comparing what the hub serves level for level (shared by the depth and the
two-market tests)."""

from __future__ import annotations

from decimal import Decimal

from marketcast.exchanges.sim import SimExchange
from marketcast.exchanges.sim.truth.book import PRICE_DIGITS
from marketcast.exchanges.sim.wire.streams import Market

Levels = list[tuple[Decimal, Decimal]]


def parsed(rows: list[list[str]]) -> Levels:
    """``[[price, quantity], ...]`` as the hub sends them (decimal strings), exactly."""
    return [(Decimal(price), Decimal(quantity)) for price, quantity in rows]


def true_book(
    sim: SimExchange, symbol: str, market: Market, update_id: int
) -> tuple[Levels, Levels]:
    """Bids and asks of ``market``'s true book right after ``update_id``: USD-M's has
    its own prices (spot's at a small basis), so each market is compared with its own."""
    spec = sim.market_truth(market).tape.spec(symbol)
    book = sim.book_at(symbol, update_id, market)

    def side(levels: tuple[tuple[int, int], ...]) -> Levels:
        # The simulator keeps PRICE_DIGITS more price digits than the tick, so that a
        # level can rest between two ticks, as some do on the real exchange.
        return [
            (
                Decimal(price).scaleb(-spec.price_decimals - PRICE_DIGITS),
                Decimal(quantity).scaleb(-spec.qty_decimals),
            )
            for price, quantity in levels
        ]

    return side(book.bids), side(book.asks)
