"""Which symbols the exchange lists: loaded once at start, retried while it is unreachable.

Every symbol a client names is resolved here to the exchange's id (``btc/usdt`` ->
``BTCUSDT``) or refused with suggestions. A configured symbol the exchange does not list
is dropped and reported: keeping its topics would retry rejected REST calls forever and
never become ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final, Protocol

from marketcast.domain.symbols import normalize_symbol, suggest_symbols
from marketcast.errors import NotReady, UnknownSymbol, is_outage
from marketcast.exchanges.binance.messages import SymbolInfo

log = logging.getLogger(__name__)

FIRST_RETRY_S: Final = 0.5
MAX_RETRY_S: Final = 30.0


class ExchangeCatalog(Protocol):
    async def exchange_info(self) -> list[SymbolInfo]: ...


class SymbolCatalog:
    """The exchange's listing and the configured symbols it serves."""

    def __init__(self, configured: Sequence[str]) -> None:
        self.symbols = tuple(configured)
        """The configured symbols the exchange lists (all of them until it is loaded)."""
        self.listed: dict[str, SymbolInfo] = {}
        self.unlisted: tuple[str, ...] = ()
        self.loaded = asyncio.Event()

    async def load(self, exchange: ExchangeCatalog) -> None:
        """Load the listing, retrying with backoff: the exchange may be unreachable at boot."""
        delay = FIRST_RETRY_S
        while True:
            try:
                infos = await exchange.exchange_info()
            except Exception as error:
                level = logging.DEBUG if is_outage(error) else logging.WARNING
                log.log(level, "exchange info unavailable, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            self.listed = {info.symbol: info for info in infos}
            self.unlisted = tuple(s for s in self.symbols if s not in self.listed)
            if self.unlisted:
                log.error("configured symbols not listed by the exchange: %s", self.unlisted)
                self.symbols = tuple(s for s in self.symbols if s in self.listed)
            self.loaded.set()
            return

    def resolve(self, given: str) -> str:
        """The exchange id for ``given`` (``btc/usdt`` → ``BTCUSDT``), or UnknownSymbol.

        Before the listing is loaded only configured symbols resolve (what a persistent
        store may already hold); any other is NotReady: it may exist, it cannot be known.
        """
        symbol = normalize_symbol(given)
        if symbol in self.symbols:
            return symbol
        if not self.loaded.is_set():
            raise NotReady("exchange info not loaded yet (is the exchange reachable?); retry")
        if symbol in self.listed:
            return symbol
        pool = self.listed.keys() if self.listed else self.symbols
        raise UnknownSymbol(given, suggest_symbols(given, pool))

    def require_listed(self, symbol: str) -> None:
        """Raise UnknownSymbol (with suggestions) unless the exchange lists ``symbol``."""
        if symbol not in self.listed:
            raise UnknownSymbol(symbol, suggest_symbols(symbol, self.listed))
