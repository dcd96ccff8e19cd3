"""Small stand-ins shared by the hub's unit tests: a settable clock, a symbol directory."""

from __future__ import annotations

from collections.abc import Collection

from marketcast.domain.market import SymbolMeta, build_symbol_meta
from marketcast.errors import UnknownSymbol
from marketcast.exchanges.binance.messages import SymbolInfo


class FakeClock:
    """Monotonic seconds that move only when a test sets ``now``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Directory:
    """The symbol service for ``symbols``: tick 0.01, step 0.001, anything else unknown."""

    def __init__(self, symbols: Collection[str]) -> None:
        self._symbols = symbols

    async def get(self, symbol: str) -> SymbolMeta:
        if symbol not in self._symbols:
            raise UnknownSymbol(symbol)
        listing = SymbolInfo(symbol, symbol[:-4], "USDT", "TRADING", "0.01", "0.001")
        return build_symbol_meta(listing, None)
