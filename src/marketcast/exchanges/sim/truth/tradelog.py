"""Trades of the tape selected the way Binance's trade endpoints and streams select them.

Every trade has happened once its time is at or before the virtual now. Trade ids count
every trade since listing without a hole, so "the trades after id N" and "the trades in
``(t0, t1]``" are plain walks over the tape's seconds. Downtimes do not remove trades
(only whole candles, see :mod:`.ground_truth`): the id sequence stays contiguous.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from marketcast.domain.intervals import DAY_MS, SECOND_MS
from marketcast.exchanges.sim.truth.bars import Trade
from marketcast.exchanges.sim.truth.tape import Tape


@dataclass(frozen=True, slots=True)
class AggTradesQuery:
    """A validated ``GET /api/v3/aggTrades``."""

    symbol: str
    limit: int
    from_id: int | None
    start_ms: int | None
    end_ms: int | None


def trades_in(tape: Tape, symbol: str, after_ms: int, until_ms: int) -> list[Trade]:
    """Trades with ``after_ms < time <= until_ms``, in id order."""
    start = max(after_ms + 1, tape.listing_ms(symbol))
    found: list[Trade] = []
    second = start - start % SECOND_MS
    while second <= until_ms:
        found.extend(t for t in tape.trades(symbol, second) if start <= t.time <= until_ms)
        second += SECOND_MS
    return found


def trades_from_id(
    tape: Tape, symbol: str, from_id: int, now_ms: int, limit: int | None
) -> list[Trade]:
    """Up to ``limit`` trades with ids from ``from_id`` that happened by ``now_ms``."""
    second = tape.second_of_trade(symbol, max(0, from_id), now_ms // DAY_MS)
    found: list[Trade] = []
    if second is None:
        return found
    for trade in _forward(tape, symbol, second, now_ms):
        if limit is not None and len(found) >= limit:
            break
        if trade.trade_id >= from_id:
            found.append(trade)
    return found


def trades_since(
    tape: Tape, symbol: str, start_ms: int, end_ms: int, limit: int | None
) -> list[Trade]:
    """The oldest ``limit`` trades with ``start_ms <= time <= end_ms``."""
    found: list[Trade] = []
    first = max(start_ms, tape.listing_ms(symbol))
    for trade in _forward(tape, symbol, first - first % SECOND_MS, end_ms):
        if limit is not None and len(found) >= limit:
            break
        if trade.time >= start_ms:
            found.append(trade)
    return found


def newest_trades(tape: Tape, symbol: str, until_ms: int, limit: int) -> list[Trade]:
    """The newest ``limit`` trades at or before ``until_ms``, oldest first."""
    listing = tape.listing_ms(symbol)
    found: list[Trade] = []
    second = until_ms - until_ms % SECOND_MS
    while len(found) < limit and second >= listing:
        done = [t for t in tape.trades(symbol, second) if t.time <= until_ms]
        found.extend(reversed(done))
        second -= SECOND_MS
    del found[limit:]
    found.reverse()
    return found


def last_price(tape: Tape, symbol: str, at_ms: int) -> int:
    """Price in ticks of the last trade at or before ``at_ms`` (every second trades at
    its first millisecond, so the second holding ``at_ms`` always has one)."""
    second = at_ms - at_ms % SECOND_MS
    price = 0
    for trade in tape.trades(symbol, second):
        if trade.time > at_ms:
            break
        price = trade.price
    return price


def _forward(tape: Tape, symbol: str, second: int, until_ms: int) -> Iterator[Trade]:
    while second <= until_ms:
        for trade in tape.trades(symbol, second):
            if trade.time > until_ms:
                return
            yield trade
        second += SECOND_MS


def agg_trades_for(tape: Tape, query: AggTradesQuery, now_ms: int) -> list[Trade]:
    """What ``aggTrades`` answers (spot and USD-M alike): from ``fromId``, else from
    ``startTime``, else the newest; never past ``endTime`` or the virtual now."""
    end = now_ms if query.end_ms is None else min(now_ms, query.end_ms)
    if query.from_id is not None:
        return trades_from_id(tape, query.symbol, query.from_id, end, query.limit)
    if query.start_ms is not None:
        return trades_since(tape, query.symbol, query.start_ms, end, query.limit)
    return newest_trades(tape, query.symbol, end, query.limit)
