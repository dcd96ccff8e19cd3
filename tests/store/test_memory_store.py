"""MemoryStore reads: since/before/limit selection and exchange-gap bookkeeping."""

from __future__ import annotations

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.topics import Topic
from marketcast.store.memory import MemoryStore

TOPIC = Topic.of("BTCUSDT", "1m")
STEP = 60_000


def candles(n: int) -> list[Candle]:
    return [Candle(i * STEP, 1, 2, 0.5, 1.5, 3, 4, 5, True) for i in range(n)]


def times(candles: list[Candle]) -> list[int]:
    return [c.open_time // STEP for c in candles]


async def test_read_newest_oldest_since_and_before() -> None:
    store = MemoryStore(capacity=10)
    await store.replace(TOPIC, candles(10), now_ms=1)
    assert times(await store.read(TOPIC, limit=3)) == [7, 8, 9]
    assert times(await store.read(TOPIC, limit=3, since=4 * STEP)) == [4, 5, 6]
    assert times(await store.read(TOPIC, limit=3, before=4 * STEP)) == [1, 2, 3]
    assert times(await store.read(TOPIC, limit=9, since=2 * STEP, before=5 * STEP)) == [2, 3, 4]
    assert await store.read(Topic.of("ETHUSDT", "1m"), limit=3) == []


async def test_upsert_many_reports_only_changes_and_info_tracks_updates() -> None:
    store = MemoryStore(capacity=10)
    first = candles(3)
    assert await store.upsert_many(TOPIC, first, now_ms=5) == first
    assert await store.upsert_many(TOPIC, first, now_ms=6) == []
    info = await store.info(TOPIC)
    assert (info.count, info.updated_at_ms, info.last) == (3, 5, first[-1])


async def test_exchange_gaps_are_merged() -> None:
    store = MemoryStore(capacity=10)
    await store.add_exchange_gaps(TOPIC, [TimeRange(2 * STEP, 3 * STEP)])
    await store.add_exchange_gaps(TOPIC, [TimeRange(4 * STEP, 4 * STEP)])
    assert (await store.info(TOPIC)).exchange_gaps == (TimeRange(2 * STEP, 4 * STEP),)


async def test_revision_changes_with_every_change_a_read_can_see_and_never_repeats() -> None:
    store = MemoryStore(capacity=10)
    seen = [store.revision(TOPIC)]

    def changed() -> bool:
        revision = store.revision(TOPIC)
        fresh = revision not in seen
        seen.append(revision)
        return fresh

    history = candles(3)
    await store.replace(TOPIC, history, now_ms=1)
    assert changed()
    await store.upsert(TOPIC, history[-1], now_ms=2)  # the same candle again: no change
    assert not changed()
    await store.read(TOPIC, limit=3)
    assert not changed()
    forming = Candle(3 * STEP, 1, 3, 0.5, 2.5, 4, 5, 6, False)
    assert await store.upsert(TOPIC, forming, now_ms=3) is not None
    assert changed()
    more_trades = Candle(3 * STEP, 1, 3, 0.5, 2.6, 5, 6, 7, False)
    assert await store.upsert_many(TOPIC, [more_trades], now_ms=4) == [more_trades]
    assert changed()
    await store.forget(TOPIC)
    assert changed()
    await store.replace(TOPIC, history, now_ms=5)  # same content as before: a new revision
    assert changed()
    assert store.revision(Topic.of("ETHUSDT", "1m")) not in seen[1:]
