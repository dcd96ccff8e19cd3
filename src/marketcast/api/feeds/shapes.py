"""Row shapes more than one contract sends, and the encode-once cache of feed updates (pure).

The native API and OrderFox send the same book level (numbers plus ready-to-show
strings) and the same candle row (OrderFox's chart rows add ``timestamp``); SmartTrade's
candles have their own shape (:mod:`marketcast.api.smarttrade.formats`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from decimal import Decimal

from marketcast.api.transport.messages import Json
from marketcast.domain.book_view import ViewLevel
from marketcast.domain.candles import Candle


def candle_native(c: Candle) -> Json:
    """``{time (s), open, high, low, close, volume, closed}``."""
    return {
        "time": c.time,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "volume": c.volume,
        "closed": c.closed,
    }


def optional_number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def level_json(level: ViewLevel) -> Json:
    return {
        "price": float(level.price),
        "amount": float(level.amount),
        "cumulative": float(level.cumulative),
        "price_formatted": level.price_formatted,
        "amount_formatted": level.amount_formatted,
        "cumulative_formatted": level.cumulative_formatted,
    }


class EncodeOnce:
    """The text of recently encoded updates, by the identity of what they encode.

    A feed hands the same object (a shared book view, a batch of trades, a liquidation) to
    every listener of a symbol, so the first listener encodes it and the others reuse the
    text. Entries hold their object, so its ``id`` cannot be reused while cached; the
    ``size`` newest entries are kept. ``variant`` separates encodings of one object.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.encoded = 0
        """How many texts were encoded (for tests)."""
        self._entries: OrderedDict[tuple[int, Hashable], tuple[object, str]] = OrderedDict()

    def text(self, subject: object, variant: Hashable, encode: Callable[[], str]) -> str:
        key = (id(subject), variant)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is subject:
            self._entries.move_to_end(key)
            return entry[1]
        text = encode()
        self.encoded += 1
        self._entries[key] = (subject, text)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return text
