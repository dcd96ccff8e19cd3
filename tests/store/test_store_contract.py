"""The CandleStore contract, run against every backend: memory and Redis must agree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketcast.domain.candles import Candle, TimeRange, newer_version
from marketcast.domain.topics import Topic
from marketcast.store.interface import CandleStore, TopicInfo
from marketcast.store.memory import MemoryStore
from marketcast.store.redis import RedisStore
from support.redis_server import redis_url

__all__ = ["redis_url"]  # the fixture, looked up by name through getfixturevalue

TOPIC = Topic.of("BTCUSDT", "1m")
STEP = 60_000

StoreFactory = Callable[[int], CandleStore]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def new_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """Makes empty stores of one backend; each Redis one under a key prefix of its own."""
    url: str | None = request.getfixturevalue("redis_url") if request.param == "redis" else None
    opened: list[CandleStore] = []

    def make(capacity: int) -> CandleStore:
        store: CandleStore
        if url is None:
            store = MemoryStore(capacity)
        else:
            store = RedisStore(url, capacity=capacity, prefix=f"s{len(opened)}:")
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.aclose()


def candle(index: int, *, closed: bool = True, trades: int = 5, price: float = 1.5) -> Candle:
    return Candle(index * STEP, price, price + 1, price - 0.5, price, 3.25, 4.5, trades, closed)


def indexes(candles: list[Candle]) -> list[int]:
    return [c.open_time // STEP for c in candles]


async def filled(new_store: StoreFactory, capacity: int, count: int) -> CandleStore:
    store = new_store(capacity)
    await store.replace(TOPIC, [candle(i) for i in range(count)], now_ms=1)
    return store


# -- version rules ---------------------------------------------------------------------


async def test_a_new_candle_is_stored_and_returned(new_store: StoreFactory) -> None:
    store = new_store(10)
    assert await store.upsert(TOPIC, candle(0), now_ms=1) == candle(0)
    assert await store.last(TOPIC) == candle(0)


async def test_an_identical_candle_changes_nothing(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.upsert(TOPIC, candle(0, closed=False), now_ms=1)
    assert await store.upsert(TOPIC, candle(0, closed=False), now_ms=2) is None
    assert (await store.info(TOPIC)).updated_at_ms == 1


async def test_closed_beats_forming_and_forming_never_beats_closed(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.upsert(TOPIC, candle(0, closed=False, trades=9), now_ms=1)
    final = candle(0, closed=True, trades=3)
    assert await store.upsert(TOPIC, final, now_ms=2) == final
    assert await store.upsert(TOPIC, candle(0, closed=False, trades=99), now_ms=3) is None
    assert await store.last(TOPIC) == final


async def test_a_different_closed_version_replaces_a_closed_one(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.upsert(TOPIC, candle(0, price=1.0), now_ms=1)
    corrected = candle(0, price=2.0)
    assert await store.upsert(TOPIC, corrected, now_ms=2) == corrected
    assert await store.last(TOPIC) == corrected


async def test_forming_versions_are_ordered_by_trade_count(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.upsert(TOPIC, candle(0, closed=False, trades=10), now_ms=1)
    assert await store.upsert(TOPIC, candle(0, closed=False, trades=9), now_ms=2) is None
    resent = candle(0, closed=False, trades=10, price=7.0)
    assert await store.upsert(TOPIC, resent, now_ms=3) == resent
    further = candle(0, closed=False, trades=11)
    assert await store.upsert(TOPIC, further, now_ms=4) == further
    assert await store.read(TOPIC, limit=5) == [further]


async def test_upsert_many_returns_the_changes_in_order(new_store: StoreFactory) -> None:
    store = new_store(10)
    batch = [candle(2), candle(0), candle(2), candle(1, closed=False), candle(1)]
    changed = [candle(2), candle(0), candle(1, closed=False), candle(1)]
    assert await store.upsert_many(TOPIC, batch, now_ms=5) == changed
    assert await store.upsert_many(TOPIC, batch, now_ms=6) == []
    assert indexes(await store.read(TOPIC, limit=10)) == [0, 1, 2]
    assert (await store.info(TOPIC)).updated_at_ms == 5


# -- capacity --------------------------------------------------------------------------


async def test_appending_to_a_full_buffer_drops_the_oldest(new_store: StoreFactory) -> None:
    store = new_store(3)
    for i in range(5):
        await store.upsert(TOPIC, candle(i), now_ms=i)
    assert await store.open_times(TOPIC) == [2 * STEP, 3 * STEP, 4 * STEP]


async def test_a_full_buffer_rejects_a_candle_older_than_it_keeps(new_store: StoreFactory) -> None:
    store = await filled(new_store, 3, 5)
    assert await store.upsert(TOPIC, candle(1), now_ms=2) is None
    assert await store.upsert_many(TOPIC, [candle(0), candle(5)], now_ms=2) == [candle(5)]
    assert indexes(await store.read(TOPIC, limit=9)) == [3, 4, 5]


async def test_filling_a_hole_in_a_full_buffer_drops_the_oldest(new_store: StoreFactory) -> None:
    store = new_store(3)
    await store.upsert_many(TOPIC, [candle(1), candle(2), candle(4)], now_ms=1)
    assert await store.upsert(TOPIC, candle(3), now_ms=2) == candle(3)
    assert indexes(await store.read(TOPIC, limit=9)) == [2, 3, 4]


async def test_replace_keeps_the_newest_and_the_known_gaps(new_store: StoreFactory) -> None:
    store = new_store(4)
    await store.upsert_many(TOPIC, [candle(i) for i in range(20, 25)], now_ms=1)
    await store.add_exchange_gaps(TOPIC, [TimeRange(0, STEP)])
    await store.replace(TOPIC, [candle(i) for i in range(10)], now_ms=7)
    info = await store.info(TOPIC)
    assert indexes(await store.read(TOPIC, limit=9)) == [6, 7, 8, 9]
    assert (info.count, info.updated_at_ms, info.exchange_gaps) == (4, 7, (TimeRange(0, STEP),))
    await store.replace(TOPIC, [], now_ms=8)
    assert await store.read(TOPIC, limit=9) == []
    assert await store.topics() == [TOPIC]


# -- reads -----------------------------------------------------------------------------


async def test_read_selects_by_since_before_and_limit(new_store: StoreFactory) -> None:
    store = await filled(new_store, 10, 10)
    assert indexes(await store.read(TOPIC, limit=3)) == [7, 8, 9]
    assert indexes(await store.read(TOPIC, limit=3, since=4 * STEP)) == [4, 5, 6]
    assert indexes(await store.read(TOPIC, limit=3, since=4 * STEP + 1)) == [5, 6, 7]
    assert indexes(await store.read(TOPIC, limit=3, before=4 * STEP)) == [1, 2, 3]
    assert indexes(await store.read(TOPIC, limit=3, before=4 * STEP + 1)) == [2, 3, 4]
    assert indexes(await store.read(TOPIC, limit=9, since=2 * STEP, before=5 * STEP)) == [2, 3, 4]
    assert indexes(await store.read(TOPIC, limit=50)) == list(range(10))
    assert await store.read(TOPIC, limit=3, since=10 * STEP) == []
    assert await store.read(TOPIC, limit=3, before=0) == []
    assert await store.read(TOPIC, limit=3, since=5 * STEP, before=2 * STEP) == []
    assert await store.read(TOPIC, limit=0) == []


async def test_an_unknown_topic_reads_empty(new_store: StoreFactory) -> None:
    store = await filled(new_store, 10, 3)
    other = Topic.of("ETHUSDT", "1m")
    assert await store.read(other, limit=3) == []
    assert await store.last(other) is None
    assert await store.open_times(other) == []
    assert await store.info(other) == nothing_known(other)


def nothing_known(topic: Topic) -> TopicInfo:
    return TopicInfo(topic=topic, count=0, first=None, last=None, updated_at_ms=None)


async def test_info_describes_the_stored_series(new_store: StoreFactory) -> None:
    store = await filled(new_store, 10, 4)
    await store.upsert(TOPIC, candle(4, closed=False), now_ms=9)
    info = await store.info(TOPIC)
    assert (info.topic, info.count, info.updated_at_ms) == (TOPIC, 5, 9)
    assert (info.first, info.last) == (candle(0), candle(4, closed=False))
    assert await store.open_times(TOPIC) == [i * STEP for i in range(5)]


async def test_exchange_gaps_are_merged_per_topic(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.add_exchange_gaps(TOPIC, [TimeRange(2 * STEP, 3 * STEP)])
    await store.add_exchange_gaps(
        TOPIC, [TimeRange(4 * STEP, 4 * STEP), TimeRange(9 * STEP, 9 * STEP)]
    )
    await store.add_exchange_gaps(TOPIC, [])
    gaps = (await store.info(TOPIC)).exchange_gaps
    assert gaps == (TimeRange(2 * STEP, 4 * STEP), TimeRange(9 * STEP, 9 * STEP))
    assert (await store.info(Topic.of("BTCUSDT", "1M"))).exchange_gaps == ()


# -- topics ----------------------------------------------------------------------------


async def test_topics_lists_each_written_series_once(new_store: StoreFactory) -> None:
    store = new_store(10)
    minute, month = Topic.of("BTCUSDT", "1m"), Topic.of("BTCUSDT", "1M")
    await store.upsert(minute, candle(0), now_ms=1)
    await store.upsert(minute, candle(1), now_ms=1)
    await store.upsert(month, candle(0, price=9.0), now_ms=1)
    assert sorted(await store.topics(), key=str) == sorted([minute, month], key=str)
    assert await store.read(minute, limit=5) == [candle(0), candle(1)]
    assert await store.read(month, limit=5) == [candle(0, price=9.0)]


async def test_forget_drops_history_and_metadata(new_store: StoreFactory) -> None:
    store = await filled(new_store, 10, 3)
    other = Topic.of("ETHUSDT", "5m")
    await store.upsert(other, candle(0), now_ms=1)
    await store.add_exchange_gaps(TOPIC, [TimeRange(0, 0)])
    await store.forget(TOPIC)
    assert await store.topics() == [other]
    assert await store.info(TOPIC) == nothing_known(TOPIC)
    assert await store.read(TOPIC, limit=5) == []
    assert await store.read(other, limit=5) == [candle(0)]
    await store.forget(TOPIC)  # forgetting twice is harmless


# -- model-based -----------------------------------------------------------------------

versions = st.builds(
    lambda index, closed, trades, price: candle(index, closed=closed, trades=trades, price=price),
    st.integers(0, 10),
    st.booleans(),
    st.integers(0, 3),
    st.sampled_from([1.0, 2.5]),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.lists(versions, min_size=1, max_size=1)),
        st.tuples(st.just("many"), st.lists(versions, max_size=6)),
        st.tuples(st.just("replace"), st.lists(versions, max_size=6)),
    ),
    max_size=25,
)


class Model:
    """The contract in a dict: what any backend must hold after the same operations."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.candles: dict[int, Candle] = {}

    def upsert(self, incoming: Candle) -> Candle | None:
        full = len(self.candles) == self.capacity
        if full and incoming.open_time < min(self.candles):
            return None
        winner = newer_version(self.candles.get(incoming.open_time), incoming)
        if winner is not None:
            self.candles[incoming.open_time] = winner
            for t in sorted(self.candles)[: -self.capacity]:
                del self.candles[t]
        return winner

    def replace(self, candles: list[Candle]) -> None:
        self.candles = {c.open_time: c for c in candles[-self.capacity :]}

    def series(self) -> list[Candle]:
        return [self.candles[t] for t in sorted(self.candles)]


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(capacity=st.integers(1, 8), steps=operations)
async def test_every_backend_matches_the_model(
    new_store: StoreFactory, capacity: int, steps: list[tuple[str, list[Candle]]]
) -> None:
    store, model = new_store(capacity), Model(capacity)
    try:
        for action, candles in steps:
            if action == "upsert":
                assert await store.upsert(TOPIC, candles[0], now_ms=1) == model.upsert(candles[0])
            elif action == "many":
                expected = [w for c in candles if (w := model.upsert(c)) is not None]
                assert await store.upsert_many(TOPIC, candles, now_ms=1) == expected
            else:
                unique = sorted(
                    {c.open_time: c for c in candles}.values(), key=lambda c: c.open_time
                )
                model.replace(unique)
                await store.replace(TOPIC, unique, now_ms=1)
            assert await store.read(TOPIC, limit=capacity) == model.series()
        series = model.series()
        assert await store.open_times(TOPIC) == [c.open_time for c in series]
        assert await store.last(TOPIC) == (series[-1] if series else None)
        info = await store.info(TOPIC)
        assert (info.count, info.first) == (len(series), series[0] if series else None)
    finally:
        await store.aclose()
