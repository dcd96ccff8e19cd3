"""Simulated USD-M liquidations: at most one forced order per symbol and second, from the tape.

Whether a second holds a liquidation is a seeded hash of (symbol, second) with odds
:data:`LIQUIDATION_ODDS`, so any range can be listed in any order with the same result,
and the ``@forceOrder`` stream, the history endpoint and the tests all read one truth.

The forced order mirrors one real trade of that second: it fills completely at that
trade's time and price (``ap``). Its side follows the second's move: a falling second
liquidates longs (the exchange SELLs), a rising one shorts (it BUYs); a flat second draws a
side from the hash. The order's limit price lies a little beyond the fill, on the losing
side (below it for a SELL, above for a BUY), as a bankruptcy price does; the quantity is a
heavy-tailed multiple of the symbol's mean trade size. All values are integers of the
tape's ticks and lots, so they sit on the ``tickSize``/``stepSize`` grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal, NamedTuple

from marketcast.domain.intervals import SECOND_MS
from marketcast.exchanges.sim.truth.hashing import key_hash, mix64, unit
from marketcast.exchanges.sim.truth.tape import SECOND_LEVEL, Tape

LIQUIDATION_ODDS: Final = 0.25
"""Chance that a second holds a liquidation: one every four virtual seconds on average."""
_SLIPPAGE: Final = (0.002, 0.012)
_SIZE_BASE: Final = 2.0
_SIZE_TAIL: Final = 120.0

Side = Literal["BUY", "SELL"]


class SimLiquidation(NamedTuple):
    """One forced order in tape units: prices in ticks, quantity in lots.

    ``time`` is the fill (``T``); it fills at once, so the original, last filled and
    accumulated quantities are all ``qty``.
    """

    symbol: str
    side: Side
    time: int
    price: int
    avg_price: int
    qty: int


class LiquidationModel:
    """The liquidations of every symbol of ``tape``."""

    def __init__(self, tape: Tape) -> None:
        self._tape = tape
        self._keys = {s: key_hash(tape.seed, s, "liquidations") for s in tape.symbols}

    def in_second(self, symbol: str, second_open: int) -> SimLiquidation | None:
        """The liquidation of the second opening at ``second_open``, if it has one."""
        key = self._keys[symbol]
        draw = mix64(key ^ second_open)
        if unit(draw) >= LIQUIDATION_ODDS or second_open < self._tape.listing_ms(symbol):
            return None
        tape = self._tape
        bar = tape.bar(symbol, SECOND_LEVEL, second_open)
        trades = tape.trades(symbol, second_open)
        fill = trades[(draw >> 8) % len(trades)]
        more = mix64(draw)
        if bar.close != bar.open:
            side: Side = "SELL" if bar.close < bar.open else "BUY"
        else:
            side = "SELL" if more & 1 else "BUY"
        low, high = _SLIPPAGE
        slip = max(1, round(fill.price * (low + (high - low) * unit(mix64(more)))))
        price = max(1, fill.price - slip) if side == "SELL" else fill.price + slip
        spec = tape.spec(symbol)
        mean_qty = max(1, spec.daily_volume_lots // max(1, spec.daily_trades))
        qty = max(1, round(mean_qty * (_SIZE_BASE + _SIZE_TAIL * unit(more >> 1) ** 4)))
        return SimLiquidation(symbol, side, fill.time, price, fill.price, qty)

    def between(self, symbol: str, start_ms: int, end_ms: int) -> list[SimLiquidation]:
        """Liquidations with ``start_ms <= time <= end_ms``, oldest first."""
        return [
            found
            for found in self._walk(symbol, start_ms, end_ms, newest_first=False)
            if start_ms <= found.time <= end_ms
        ]

    def newest(
        self, symbol: str, end_ms: int, limit: int, start_ms: int | None = None
    ) -> list[SimLiquidation]:
        """Up to ``limit`` liquidations at or before ``end_ms`` (and from ``start_ms``),
        newest first."""
        first = self._tape.listing_ms(symbol) if start_ms is None else start_ms
        found: list[SimLiquidation] = []
        for liquidation in self._walk(symbol, first, end_ms, newest_first=True):
            if len(found) >= limit:
                break
            if first <= liquidation.time <= end_ms:
                found.append(liquidation)
        return found

    def _walk(
        self, symbol: str, start_ms: int, end_ms: int, *, newest_first: bool
    ) -> Iterator[SimLiquidation]:
        first = max(start_ms, self._tape.listing_ms(symbol))
        first -= first % SECOND_MS
        last = end_ms - end_ms % SECOND_MS
        seconds = (
            range(last, first - 1, -SECOND_MS)
            if newest_first
            else range(first, last + 1, SECOND_MS)
        )
        for second in seconds:
            found = self.in_second(symbol, second)
            if found is not None:
                yield found
