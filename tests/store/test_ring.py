"""CandleRing against a plain dict model, under arbitrary upserts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.candles import Candle, newer_version
from marketcast.store.ring import CandleRing

STEP = 60_000

updates = st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.integers(0, 100)), max_size=120)


def make(index: int, closed: bool, trades: int) -> Candle:
    return Candle(index * STEP, 1.5, 2.25, 0.75, 1.25, 10.5, 12.0, trades, closed)


@given(st.integers(1, 25), updates)
def test_ring_matches_the_model(capacity: int, steps: list[tuple[int, bool, int]]) -> None:
    ring = CandleRing(capacity)
    model: dict[int, Candle] = {}
    for index, closed, trades in steps:
        incoming = make(index, closed, trades)
        kept_oldest = min(model) if len(model) == capacity else None
        changed = ring.upsert(incoming)
        if kept_oldest is not None and incoming.open_time < kept_oldest:
            assert changed is None  # older than a full buffer keeps
            continue
        winner = newer_version(model.get(incoming.open_time), incoming)
        assert changed == winner
        if winner is not None:
            model[incoming.open_time] = winner
        for t in sorted(model)[:-capacity]:
            del model[t]
        assert list(ring) == [model[t] for t in sorted(model)]
        assert ring.open_times() == sorted(model)
        assert ring.last() == model[max(model)]


def test_append_at_capacity_drops_the_oldest() -> None:
    ring = CandleRing(3)
    for i in range(5):
        ring.upsert(make(i, True, 1))
    assert [c.open_time for c in ring] == [2 * STEP, 3 * STEP, 4 * STEP]
    assert ring.index_of(3 * STEP) == 1
    assert ring.slice(1, 10) == [make(3, True, 1), make(4, True, 1)]


def test_values_round_trip_exactly() -> None:
    ring = CandleRing(2)
    c = Candle(1_700_000_000_000, 67123.45, 67200.01, 67000.0, 67150.99, 12.34567, 1e6, 321, False)
    ring.upsert(c)
    assert ring.last() == c
