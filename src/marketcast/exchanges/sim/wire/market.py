"""Binance spot JSON shapes of trades and the order book, from tape integers.

Real payloads, for reference (``M`` is documented as "ignore" and always ``true``)::

    {"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100",
     "T":1672515782136,"m":true,"M":true}
    {"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100",
     "f":100,"l":105,"T":1672515782136,"m":true,"M":true}
    {"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,
     "b":[["0.0024","10"]],"a":[["0.0026","100"]]}

Aggregate trades map one to one onto trades (``a == f == l == t``): Binance may merge
fills of one taker order, and one trade per aggregate is a valid case of that rule which
keeps aggregate ids contiguous and equal to trade ids.
"""

from __future__ import annotations

from marketcast.exchanges.sim.truth.bars import Trade
from marketcast.exchanges.sim.truth.book import (
    PRICE_DIGITS,
    PRICE_SCALE,
    BookDiff,
    BookState,
    Level,
)
from marketcast.exchanges.sim.truth.symbols import SymbolSpec
from marketcast.exchanges.sim.wire.spot import PLACES, Json, NumberText, decimal_text

_E8 = 10**8


class MarketFormatter:
    """Formats one symbol's trades and book as REST rows and stream payloads."""

    def __init__(self, spec: SymbolSpec, number: NumberText = decimal_text) -> None:
        self._symbol = spec.symbol
        self._text = number
        self._px = spec.price_decimals
        self._qty = spec.qty_decimals
        self._quote_divisor = spec.tick_scale * spec.lot_scale

    def trade_row(self, trade: Trade) -> Json:
        """One ``/api/v3/trades`` entry; ``quoteQty`` is truncated to eight decimals."""
        quote = trade.price * trade.qty * _E8 // self._quote_divisor
        return {
            "id": trade.trade_id,
            "price": self._text(trade.price, self._px),
            "qty": self._text(trade.qty, self._qty),
            "quoteQty": self._text(quote, PLACES),
            "time": trade.time,
            "isBuyerMaker": trade.is_buyer_maker,
            "isBestMatch": True,
        }

    def agg_row(self, trade: Trade) -> Json:
        """One ``/api/v3/aggTrades`` entry."""
        return {
            "a": trade.trade_id,
            "p": self._text(trade.price, self._px),
            "q": self._text(trade.qty, self._qty),
            "f": trade.trade_id,
            "l": trade.trade_id,
            "T": trade.time,
            "m": trade.is_buyer_maker,
            "M": True,
        }

    def trade_event(self, trade: Trade, event_time: int) -> Json:
        """The ``<symbol>@trade`` payload."""
        return {
            "e": "trade",
            "E": event_time,
            "s": self._symbol,
            "t": trade.trade_id,
            "p": self._text(trade.price, self._px),
            "q": self._text(trade.qty, self._qty),
            "T": trade.time,
            "m": trade.is_buyer_maker,
            "M": True,
        }

    def agg_event(self, trade: Trade, event_time: int) -> Json:
        """The ``<symbol>@aggTrade`` payload."""
        return {"e": "aggTrade", "E": event_time, "s": self._symbol, **self.agg_row(trade)}

    def depth_snapshot(self, book: BookState, limit: int) -> Json:
        """``GET /api/v3/depth`` with the best ``limit`` levels per side."""
        return {
            "lastUpdateId": book.update_id,
            "bids": self._levels(book.bids[:limit]),
            "asks": self._levels(book.asks[:limit]),
        }

    def depth_event(self, diff: BookDiff, event_time: int, previous_final: int) -> Json:
        """The ``<symbol>@depth`` / ``<symbol>@depth@100ms`` payload (spot events chain by
        ``U`` alone, so ``previous_final`` is not sent)."""
        return {
            "e": "depthUpdate",
            "E": event_time,
            "s": self._symbol,
            "U": diff.first_id,
            "u": diff.last_id,
            "b": self._levels(diff.bids),
            "a": self._levels(diff.asks),
        }

    def _levels(self, levels: tuple[Level, ...]) -> list[list[str]]:
        qty = self._qty
        return [[self._book_price(p), self._text(q, qty)] for p, q in levels]

    def _book_price(self, price: int) -> str:
        """A book price (tenths of a tick) with the tick's decimals, one more off the grid."""
        ticks, rest = divmod(price, PRICE_SCALE)
        if rest:
            return self._text(price, self._px + PRICE_DIGITS)
        return self._text(ticks, self._px)
