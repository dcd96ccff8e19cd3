"""Liquidation ground truth for tests: the simulator's forced orders as domain values."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import Liquidation, VolumeBuckets
from marketcast.exchanges.sim import SimExchange
from marketcast.exchanges.sim.truth.liquidations import SimLiquidation


def as_liquidation(sim: SimExchange, found: SimLiquidation) -> Liquidation:
    """One simulated forced order in exchange units (ticks and lots scaled to decimals)."""
    spec = sim.truth.tape.spec(found.symbol)
    return Liquidation(
        found.symbol,
        found.side,
        Decimal(found.qty).scaleb(-spec.qty_decimals),
        Decimal(found.price).scaleb(-spec.price_decimals),
        Decimal(found.avg_price).scaleb(-spec.price_decimals),
        found.time,
    )


def truth_liquidations(
    sim: SimExchange, symbol: str, first_ms: int, last_ms: int
) -> list[Liquidation]:
    """Every liquidation of ``symbol`` filled in ``[first_ms, last_ms]``, oldest first."""
    return [as_liquidation(sim, f) for f in sim.truth.liquidations(symbol, first_ms, last_ms)]


def recomputed(liquidations: Iterable[Liquidation], code: str) -> VolumeBuckets:
    """Buckets of ``code`` counted from scratch, each key once (its first version wins)."""
    unique: dict[object, Liquidation] = {}
    for liquidation in liquidations:
        unique.setdefault(liquidation.key, liquidation)
    buckets = VolumeBuckets(Interval.parse(code))
    buckets.add_all(unique.values())
    return buckets
