"""What a node holds of one symbol's liquidations: the newest ones and the volume buckets.

Pure: no I/O, no clock. Stored history, the external history service and the live
stream all feed :meth:`SymbolLiquidations.absorb`, in any order and with any overlap;
each liquidation counts once (by :attr:`~marketcast.domain.liquidations.Liquidation.key`),
so the buckets are the same whichever source delivered it first.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from marketcast.domain.intervals import DAY_MS, Interval
from marketcast.domain.liquidations import (
    DEFAULT_MAX_BUCKETS,
    LIQUIDATION_TIMEFRAMES,
    Bucket,
    Liquidation,
    OrderSide,
    VolumeBuckets,
    parse_timeframe,
)
from marketcast.errors import InvalidInterval
from marketcast.exchanges.binance.messages import SymbolInfo
from marketcast.hub.symbol_feeds.listeners import Listeners
from marketcast.store.liquidations import encode_liquidation

DEFAULT_RECENT: Final = 500
"""Liquidations kept for ``recent``: OrderFox sends 50 on connect; the rest is slack."""
DEFAULT_SEEN: Final = 20_000
"""Keys remembered for de-duplication at least (see :func:`seen_limit_for`)."""

EXTERNAL_HISTORY_LIMIT: Final = 50  # what OrderFox fetches on connect

Key = tuple[int, Decimal, OrderSide]


class FuturesCatalog(Protocol):
    """The USD-M perpetuals (``BinanceRest(..., market=USDM)`` fits)."""

    async def exchange_info(self) -> list[SymbolInfo]: ...


class ExternalHistory(Protocol):
    """Recent liquidations from elsewhere, ``[]`` if unavailable (``LiquidationHistoryClient``)."""

    async def recent(self, symbol: str, limit: int = 50) -> list[Liquidation]: ...


def seen_limit_for(capacity: int) -> int:
    """Keys to remember when the store keeps ``capacity`` liquidations per symbol.

    At least every stored one: a key forgotten while still stored would let a repeat of
    that liquidation (from the history service, or another node's write) count twice.
    """
    return max(DEFAULT_SEEN, capacity)


def history_start(newest_ms: int, max_buckets: int = DEFAULT_MAX_BUCKETS) -> int:
    """Where a symbol's stored history needs loading from, its newest being at ``newest_ms``.

    The widest buckets (a day) cover ``max_buckets`` days up to the newest one; older
    liquidations could count only in days nothing happened in since, and the newest
    :data:`DEFAULT_RECENT` are far younger for any traded perpetual.
    """
    return Interval.parse("1d").floor(newest_ms) - (max_buckets - 1) * DAY_MS


class LiquidationListeners:
    """Who is told about new liquidations, per symbol; a failing listener is only counted."""

    def __init__(self) -> None:
        self._by_symbol: dict[str, Listeners[Liquidation]] = {}
        self.errors = 0

    def count(self, symbol: str) -> int:
        return len(self._by_symbol.get(symbol, ()))

    def watch(self, symbol: str, listener: Callable[[Liquidation], None]) -> Callable[[], None]:
        """Add ``listener``; return the function that removes it (safe to call twice)."""
        listeners = self._by_symbol.get(symbol)
        if listeners is None:
            listeners = self._by_symbol[symbol] = Listeners(f"liquidations {symbol}")
        stop = listeners.watch(listener)

        def unsubscribe() -> None:
            stop()
            if not listeners and self._by_symbol.get(symbol) is listeners:
                del self._by_symbol[symbol]

        return unsubscribe

    def tell(self, symbol: str, liquidations: Iterable[Liquidation]) -> None:
        for liquidation in liquidations:
            if (listeners := self._by_symbol.get(symbol)) is not None:
                self.errors += listeners.tell(liquidation)


@dataclass(slots=True)
class KeeperStats:
    """What went wrong, or was repeated, while a keeper ran (for ``status``)."""

    events: int = 0
    duplicates: int = 0
    event_failures: int = 0
    load_failures: int = 0


class SeenKeys:
    """The newest ``limit`` keys absorbed, forgetting the oldest inserted first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._keys: dict[Key, None] = {}  # insertion-ordered

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Key) -> None:
        self._keys[key] = None
        if len(self._keys) > self._limit:
            del self._keys[next(iter(self._keys))]


class SymbolLiquidations:
    """One symbol's newest ``keep_recent`` liquidations and its buckets per timeframe."""

    def __init__(
        self,
        symbol: str,
        *,
        keep_recent: int = DEFAULT_RECENT,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
        seen_limit: int = DEFAULT_SEEN,
    ) -> None:
        self.symbol = symbol
        self._keep_recent = keep_recent
        # Ordered like the store (time, then encoding) so equal times agree with it.
        self._recent: list[tuple[int, str, Liquidation]] = []
        self._seen = SeenKeys(seen_limit)
        self.buckets = {
            code: VolumeBuckets(parse_timeframe(code), max_buckets)
            for code in LIQUIDATION_TIMEFRAMES
        }

    def __len__(self) -> int:
        """How many distinct liquidations were absorbed (as far as keys are remembered)."""
        return len(self._seen)

    def absorb(self, liquidations: Iterable[Liquidation]) -> list[Liquidation]:
        """Count every liquidation not seen before; return those, in the given order."""
        fresh: list[Liquidation] = []
        for liquidation in liquidations:
            if liquidation.key in self._seen:
                continue
            self._seen.add(liquidation.key)
            fresh.append(liquidation)
            bisect.insort(
                self._recent,
                (liquidation.time_ms, encode_liquidation(liquidation), liquidation),
            )
            del self._recent[: -self._keep_recent]
            for buckets in self.buckets.values():
                buckets.add(liquidation)
        return fresh

    def recent(self, limit: int) -> list[Liquidation]:
        """Up to ``limit`` liquidations, newest first."""
        if limit <= 0:
            return []
        return [entry[2] for entry in reversed(self._recent[-limit:])]

    def newest_time(self) -> int | None:
        return self._recent[-1][0] if self._recent else None

    def volume(self, timeframe: Interval, start_ms: int, end_ms: int) -> list[Bucket]:
        """Non-empty buckets of ``timeframe`` overlapping ``[start_ms, end_ms]``."""
        return self._of(timeframe).range(start_ms, end_ms)

    def bucket(self, timeframe: Interval, time_ms: int) -> Bucket | None:
        """The bucket holding ``time_ms``, if any liquidation fell into it."""
        found = self._of(timeframe).range(time_ms, time_ms)
        return found[0] if found else None

    def _of(self, timeframe: Interval) -> VolumeBuckets:
        buckets = self.buckets.get(timeframe.code)
        if buckets is None:
            raise InvalidInterval(timeframe.code, LIQUIDATION_TIMEFRAMES)
        return buckets
