"""The symbol service: display-ready metadata for every listed symbol.

Exchange info is not fetched here: it is the hub's catalog, loaded once at start. The
24-hour tickers (volume, last price, change) are fetched lazily by the first request
after they are ``ttl_s`` old, one fetch at a time: requests meanwhile get the previous
tickers, or wait for that one fetch if there are none yet.

When a refresh fails the last tickers keep being served and :attr:`SymbolService.stale`
says so; the fetch is not tried again for ``retry_s``, so a down exchange is not asked
once per request. Only with no tickers at all does a request fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from marketcast.domain.market import SymbolMeta, Ticker24h, build_symbol_meta
from marketcast.domain.symbols import normalize_symbol, suggest_symbols
from marketcast.errors import (
    ExchangeError,
    ExchangeProtocolError,
    ExchangeUnavailable,
    NotReady,
    UnknownSymbol,
)
from marketcast.exchanges.binance.messages import SymbolInfo

log = logging.getLogger(__name__)

TRADING = "TRADING"


class SymbolService:
    """``await service.all()`` for the selector, ``await service.get("btc/usdt")`` for one.

    Args:
        catalog: the listings by exchange id (the hub's ``listed``); empty until loaded.
        fetch_tickers: one call for every symbol's 24-hour ticker.
        clock: seconds, monotonic or not; only differences are used.
        ttl_s: how long fetched tickers are served before the next request refreshes.
        retry_s: how long after a failed refresh the last tickers are served untried.
    """

    def __init__(
        self,
        catalog: Callable[[], Mapping[str, SymbolInfo]],
        fetch_tickers: Callable[[], Awaitable[list[Ticker24h]]],
        clock: Callable[[], float],
        ttl_s: float = 300.0,
        retry_s: float = 30.0,
    ) -> None:
        self._catalog = catalog
        self._fetch = fetch_tickers
        self._clock = clock
        self.ttl_s = ttl_s
        self.retry_s = retry_s
        self._refresh_lock = asyncio.Lock()
        self._tickers: dict[str, Ticker24h] | None = None
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._last_error: str | None = None
        self.fetches = 0
        # Metadata is built on first use (Binance lists thousands of symbols, a UI asks
        # for a few hundred) and kept for one (catalog, tickers) pair, compared by
        # identity: the hub replaces its catalog wholesale, a refresh its tickers.
        self._built_catalog: Mapping[str, SymbolInfo] | None = None
        self._built_tickers: Mapping[str, Ticker24h] | None = None
        self._metas: dict[str, SymbolMeta | None] = {}
        self._sorted: dict[str | None, list[SymbolMeta]] = {}

    # -- reading ---------------------------------------------------------------------
    async def all(self, quote: str | None = "USDT") -> list[SymbolMeta]:
        """Trading symbols quoted in ``quote`` (``None``: any), by 24 h quote volume, desc.

        Raises:
            NotReady: the hub has not loaded exchange info yet.
            ExchangeError: no tickers were ever fetched and fetching fails now.
        """
        catalog = await self._current()
        ordered = self._sorted.get(quote)
        if ordered is None:
            found = (
                self._meta(listing)
                for listing in catalog.values()
                if listing.status == TRADING and (quote is None or listing.quote_asset == quote)
            )
            chosen = [meta for meta in found if meta is not None]
            ordered = sorted(chosen, key=lambda m: (-m.volume_24h, m.exchange_id))
            self._sorted[quote] = ordered
        return list(ordered)

    async def get(self, symbol: str) -> SymbolMeta:
        """One listed symbol, whatever its status; ``btc/usdt`` finds ``BTCUSDT``.

        Without any 24 h tickers (the exchange never answered that call) the symbol is
        described from its listing alone: no price, no volume, tick-based rounding. Books,
        tapes and charts need the filters, not the volume, and must not go dark with it.

        Raises:
            UnknownSymbol: not listed; with suggestions. Checked before any fetch.
            NotReady: as :meth:`all`.
        """
        catalog = self._loaded_catalog()
        wanted = normalize_symbol(symbol)
        if wanted not in catalog:
            raise UnknownSymbol(symbol, suggest_symbols(symbol, catalog.keys()))
        try:
            listing = (await self._current()).get(wanted)
            meta = None if listing is None else self._meta(listing)
        except ExchangeError:
            meta = self._listing_only(catalog[wanted])
        if meta is None:
            raise ExchangeProtocolError(f"exchange info for {wanted} has no usable filters")
        return meta

    @property
    def stale(self) -> bool:
        """The last refresh failed: what is served is older than the TTL promises."""
        return self._failed_at is not None and (
            self._fetched_at is None or self._failed_at >= self._fetched_at
        )

    def status(self) -> dict[str, Any]:
        """For ``/health``: tickers age, staleness, last error, fetch count."""
        age = None if self._fetched_at is None else round(self._clock() - self._fetched_at, 3)
        return {
            "tickers_age_s": age,
            "stale": self.stale,
            "last_error": self._last_error if self.stale else None,
            "fetches": self.fetches,
        }

    # -- refreshing ------------------------------------------------------------------
    async def _current(self) -> Mapping[str, SymbolInfo]:
        """The catalog, with tickers refreshed if due and stale metadata dropped."""
        self._loaded_catalog()  # not ready: fail before asking the exchange for tickers
        tickers = await self._fresh_tickers()
        catalog = self._loaded_catalog()
        if catalog is not self._built_catalog or tickers is not self._built_tickers:
            self._metas, self._sorted = {}, {}
            self._built_catalog, self._built_tickers = catalog, tickers
        return catalog

    def _meta(self, listing: SymbolInfo) -> SymbolMeta | None:
        """Built once per tickers; ``None`` for a listing with unusable filters."""
        if listing.symbol in self._metas:
            return self._metas[listing.symbol]
        tickers = self._built_tickers or {}
        meta: SymbolMeta | None = None
        try:
            meta = build_symbol_meta(listing, tickers.get(listing.symbol))
        except ValueError as error:  # one odd listing must not hide the others
            log.warning("symbol %s left out of the symbol list: %s", listing.symbol, error)
        self._metas[listing.symbol] = meta
        return meta

    @staticmethod
    def _listing_only(listing: SymbolInfo) -> SymbolMeta | None:
        try:
            return build_symbol_meta(listing, None)
        except ValueError:
            return None

    def _loaded_catalog(self) -> Mapping[str, SymbolInfo]:
        catalog = self._catalog()
        if not catalog:
            raise NotReady("exchange info not loaded yet (is the exchange reachable?); retry")
        return catalog

    async def _fresh_tickers(self) -> dict[str, Ticker24h]:
        if self._tickers is not None and (self._fresh() or self._refresh_lock.locked()):
            # Fresh, or another request is refreshing: the previous tickers will do
            # rather than everyone waiting out the exchange's retries.
            return self._tickers
        async with self._refresh_lock:
            # Whoever waited here finds the refresh (or its failure) already done.
            if self._fresh() or self._backing_off():
                return self._served()
            return await self._refresh()

    async def _refresh(self) -> dict[str, Ticker24h]:
        started = self._clock()
        self.fetches += 1
        try:
            fetched = await self._fetch()
        except ExchangeError as error:
            self._failed_at = started
            self._last_error = str(error)
            if self._tickers is None:
                raise
            log.warning("24h tickers refresh failed, serving stale tickers: %s", error)
            return self._tickers
        self._tickers = {ticker.symbol: ticker for ticker in fetched}
        self._fetched_at = started
        return self._tickers

    def _served(self) -> dict[str, Ticker24h]:
        if self._tickers is None:
            raise ExchangeUnavailable(
                f"24h tickers unavailable ({self._last_error}); retry in {self.retry_s:g}s"
            )
        return self._tickers

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self.ttl_s

    def _backing_off(self) -> bool:
        return (
            self.stale
            and self._failed_at is not None
            and self._clock() - self._failed_at < self.retry_s
        )
