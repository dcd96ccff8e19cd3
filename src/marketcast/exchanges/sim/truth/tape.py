"""The seeded trade tape: random access to any bar or trade of any symbol, at any time.

Levels nest top-down, each a fixed split of its parent::

    day ─24─► hour ─4─► 15 min ─3─► 5 min ─5─► minute ─60─► second ─n─► trades

Every Binance interval is a run of whole nodes of one or more levels (``3m`` is three
minutes, ``30m`` two quarter hours, ``1w`` seven days, ``1M`` a calendar month of days),
so :meth:`Tape.span` builds any candle, finished or forming, by merging the largest
aligned nodes that fit, down to the trades of the current second. Expansions are pure
functions of (seed, symbol, level, open time) and are memoised in a bounded memo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Final, Generic, TypeVar

from marketcast.domain.intervals import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS
from marketcast.errors import UnknownSymbol
from marketcast.exchanges.sim.truth.bars import Bar, Trade, bar_of_trades, merge
from marketcast.exchanges.sim.truth.daily import DayBook, DayModel
from marketcast.exchanges.sim.truth.hashing import key_hash, node_rng
from marketcast.exchanges.sim.truth.split import split_bar, split_trades
from marketcast.exchanges.sim.truth.symbols import SymbolSpec, spec_for

LEVEL_MS: Final = (DAY_MS, HOUR_MS, 15 * MINUTE_MS, 5 * MINUTE_MS, MINUTE_MS, SECOND_MS)
"""Length of a node at each level, coarsest first; each divides the one before it."""
SECOND_LEVEL: Final = len(LEVEL_MS) - 1
_TRADES_LEVEL: Final = SECOND_LEVEL + 1
_LEVEL_OF_LENGTH: Final = {length: level for level, length in enumerate(LEVEL_MS)}

_Key = tuple[str, int, int]
V = TypeVar("V")


class _Memo(Generic[V]):
    """A bounded memo of node expansions, forgetting the least recently used generation.

    Two dicts stand in for an LRU: hits in the old one are promoted, and when the new one
    is full the old one is dropped. Cheaper per lookup than an ordered LRU on this path.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._recent: dict[_Key, V] = {}
        self._older: dict[_Key, V] = {}

    def get(self, key: _Key) -> V | None:
        found = self._recent.get(key)
        if found is None:
            found = self._older.get(key)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: _Key, value: V) -> None:
        if len(self._recent) >= self._capacity:
            self._older, self._recent = self._recent, {}
        self._recent[key] = value


class Tape:
    """Bars and trades of ``symbols`` under ``seed``; listings are dated from ``anchor_ms``.

    Args:
        seed: the same seed gives the same tape in every process.
        symbols: listed symbols (catalogue names or any ``<BASE>USDT``).
        anchor_ms: the simulation's start; each symbol was listed a fixed number of whole
            days before the UTC day that contains it.
        cache_size: how many node expansions to keep.
        trends: drift per day of the log price of some symbols, pivoting on the anchor day
            (see :class:`DayModel`).
        basis: every symbol's base price raised by this fraction. A perpetual's tape is
            its spot tape's twin at a small basis: the same moves, different numbers.
    """

    def __init__(
        self,
        seed: int,
        symbols: Iterable[str],
        anchor_ms: int,
        *,
        cache_size: int = 4096,
        trends: Mapping[str, float] | None = None,
        basis: float = 0.0,
    ) -> None:
        self.seed = seed
        self._specs = {s: _at_basis(spec_for(s), basis) for s in symbols}
        self._keys = {s: key_hash(seed, s, "nodes") for s in self._specs}
        anchor_day = anchor_ms // DAY_MS
        self._listing_day = {s: anchor_day - p.listed_days_ago for s, p in self._specs.items()}
        drift = trends or {}
        self._books = {
            s: DayBook(DayModel(spec, seed, drift.get(s, 0.0), anchor_day), self._listing_day[s])
            for s, spec in self._specs.items()
        }
        self._expansions: _Memo[tuple[Bar, ...]] = _Memo(cache_size)
        self._trades: _Memo[tuple[Trade, ...]] = _Memo(cache_size)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def spec(self, symbol: str) -> SymbolSpec:
        """The listed symbol's spec, or raise :class:`UnknownSymbol`."""
        try:
            return self._specs[symbol]
        except KeyError:
            raise UnknownSymbol(symbol) from None

    def listing_ms(self, symbol: str) -> int:
        """Open time of the symbol's first trade; nothing exists before it."""
        self.spec(symbol)
        return self._listing_day[symbol] * DAY_MS

    def bar(self, symbol: str, level: int, open_time: int) -> Bar:
        """The node of ``level`` (an index into :data:`LEVEL_MS`) opening at ``open_time``."""
        if level == 0:
            return self._day(symbol, open_time // DAY_MS)
        parent_open = open_time - open_time % LEVEL_MS[level - 1]
        children = self._children(symbol, level - 1, parent_open)
        return children[(open_time - parent_open) // LEVEL_MS[level]]

    def trades(self, symbol: str, second_open: int) -> tuple[Trade, ...]:
        """Every trade of the second that opens at ``second_open``, in order."""
        key = (symbol, SECOND_LEVEL, second_open)
        found = self._trades.get(key)
        if found is None:
            second = self.bar(symbol, SECOND_LEVEL, second_open)
            found = split_trades(second, node_rng(self._keys[symbol], _TRADES_LEVEL, second_open))
            self._trades.put(key, found)
        return found

    def second_of_trade(self, symbol: str, trade_id: int, last_day: int) -> int | None:
        """Open time of the second holding ``trade_id``, searching days up to ``last_day``.

        Descends from the day (found by bisection on first ids) through each level's
        children, so it costs one expansion per level. ``None`` when no such trade exists
        by the end of ``last_day``.
        """
        low = self.listing_ms(symbol) // DAY_MS
        if trade_id < 0 or last_day < low or trade_id > self._day(symbol, last_day).last_id:
            return None
        high = last_day
        while low < high:  # the last day whose first id is at most trade_id
            middle = (low + high + 1) // 2
            if self._day(symbol, middle).first_id <= trade_id:
                low = middle
            else:
                high = middle - 1
        open_time = low * DAY_MS
        for level in range(SECOND_LEVEL):
            children = self._children(symbol, level, open_time)
            open_time = next(c.open_time for c in reversed(children) if c.first_id <= trade_id)
        return open_time

    def span(self, symbol: str, start: int, end: int, now: int) -> Bar | None:
        """Merge of all trades in ``[start, end)`` that happened at or before ``now``.

        ``start`` and ``end`` must be whole seconds. Returns ``None`` when no trade of
        the span has happened yet.
        """
        limit = min(end, now + 1)
        level = _LEVEL_OF_LENGTH.get(end - start)
        if level is not None and limit == end and start % LEVEL_MS[level] == 0:
            return self.bar(symbol, level, start)  # the common case: one whole node
        parts: list[Bar] = []
        t = start
        while t < limit:
            level = _largest_fitting(t, limit)
            if level is None:
                done = [trade for trade in self.trades(symbol, t) if trade.time <= now]
                parts.append(bar_of_trades(t, done))
                break
            parts.append(self.bar(symbol, level, t))
            t += LEVEL_MS[level]
        return merge(parts) if parts else None

    def _day(self, symbol: str, day: int) -> Bar:
        return self._books[symbol].bar(day)

    def _children(self, symbol: str, level: int, open_time: int) -> tuple[Bar, ...]:
        key = (symbol, level, open_time)
        found = self._expansions.get(key)
        if found is None:
            parent = self.bar(symbol, level, open_time)
            child_ms = LEVEL_MS[level + 1]
            rng = node_rng(self._keys[symbol], level, open_time)
            count = LEVEL_MS[level] // child_ms
            volatility = self._specs[symbol].daily_volatility
            found = split_bar(parent, child_ms, count, volatility, rng)
            self._expansions.put(key, found)
        return found


def _largest_fitting(t: int, limit: int) -> int | None:
    """The coarsest level whose node opens at ``t`` and ends by ``limit``."""
    for level, length in enumerate(LEVEL_MS):
        if t % length == 0 and t + length <= limit:
            return level
    return None


def _at_basis(spec: SymbolSpec, basis: float) -> SymbolSpec:
    return spec if not basis else replace(spec, base_price=spec.base_price * (1 + basis))
