"""The LiquidationStore contract on both backends, and what only the Redis one has."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from marketcast.domain.liquidations import Liquidation
from marketcast.errors import StoreUnavailable
from marketcast.store.liquidations import (
    LiquidationStore,
    MemoryLiquidationStore,
    decode_liquidation,
    encode_liquidation,
)
from marketcast.store.liquidations_redis import RedisLiquidationStore
from support.redis_server import RedisProcess, free_port, redis_process, redis_url

__all__ = ["redis_process", "redis_url"]  # the fixture, looked up by name through getfixturevalue

SYMBOL = "BTCUSDT"
T0 = 1_700_000_000_000

StoreFactory = Callable[[int], LiquidationStore]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def new_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """Makes empty stores of one backend; each Redis one under a key prefix of its own."""
    url: str | None = request.getfixturevalue("redis_url") if request.param == "redis" else None
    opened: list[LiquidationStore] = []

    def make(capacity: int) -> LiquidationStore:
        store: LiquidationStore
        if url is None:
            store = MemoryLiquidationStore(capacity)
        else:
            store = RedisLiquidationStore(url, capacity=capacity, prefix=f"s{len(opened)}:")
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.aclose()


def liq(
    second: int,
    *,
    side: str = "SELL",
    quantity: str = "0.5",
    price: str = "100.5",
    symbol: str = SYMBOL,
) -> Liquidation:
    return Liquidation(
        symbol,
        "BUY" if side == "BUY" else "SELL",
        Decimal(quantity),
        Decimal(price),
        Decimal(price),
        T0 + second * 1000,
    )


# -- writes ----------------------------------------------------------------------------


async def test_new_liquidations_are_returned_in_the_given_order(new_store: StoreFactory) -> None:
    store = new_store(10)
    batch = [liq(2), liq(1), liq(3)]
    assert await store.add(SYMBOL, batch) == batch
    assert await store.add(SYMBOL, []) == []


async def test_the_same_liquidation_written_twice_is_stored_once(new_store: StoreFactory) -> None:
    store = new_store(10)
    assert await store.add(SYMBOL, [liq(1), liq(1)]) == [liq(1)]
    assert await store.add(SYMBOL, [liq(1), liq(2)]) == [liq(2)]
    assert await store.recent(SYMBOL, 10) == [liq(2), liq(1)]


async def test_one_key_is_stored_once_and_the_first_version_wins(new_store: StoreFactory) -> None:
    store = new_store(10)
    first = liq(1, price="100.5")
    assert await store.add(SYMBOL, [first]) == [first]
    # Same time, side and quantity (OrderFox's identity), another price: a duplicate.
    assert await store.add(SYMBOL, [liq(1, price="101")]) == []
    assert await store.recent(SYMBOL, 10) == [first]


async def test_equal_amounts_written_differently_are_one_key(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.add(SYMBOL, [liq(1, quantity="0.50")])
    assert await store.add(SYMBOL, [liq(1, quantity="0.5"), liq(1, quantity="5E-1")]) == []


async def test_side_quantity_and_time_each_make_a_distinct_key(new_store: StoreFactory) -> None:
    store = new_store(10)
    batch = [liq(1), liq(1, side="BUY"), liq(1, quantity="0.25"), liq(2)]
    assert await store.add(SYMBOL, batch) == batch


async def test_symbols_keep_separate_histories(new_store: StoreFactory) -> None:
    store = new_store(10)
    eth = liq(1, symbol="ETHUSDT")
    await store.add(SYMBOL, [liq(1)])
    assert await store.add("ETHUSDT", [eth]) == [eth]
    assert await store.recent("ETHUSDT", 10) == [eth]
    assert await store.recent(SYMBOL, 10) == [liq(1)]


async def test_a_liquidation_of_another_symbol_is_refused(new_store: StoreFactory) -> None:
    store = new_store(10)
    with pytest.raises(ValueError, match="ETHUSDT"):
        await store.add(SYMBOL, [liq(1, symbol="ETHUSDT")])


# -- capacity --------------------------------------------------------------------------


async def test_only_the_newest_capacity_are_kept(new_store: StoreFactory) -> None:
    store = new_store(3)
    await store.add(SYMBOL, [liq(s) for s in range(5)])
    assert await store.recent(SYMBOL, 10) == [liq(4), liq(3), liq(2)]
    assert await store.since(SYMBOL, 0) == [liq(2), liq(3), liq(4)]


async def test_one_older_than_a_full_history_is_not_new(new_store: StoreFactory) -> None:
    store = new_store(2)
    await store.add(SYMBOL, [liq(5), liq(6)])
    assert await store.add(SYMBOL, [liq(1)]) == []
    assert await store.recent(SYMBOL, 10) == [liq(6), liq(5)]


async def test_one_pushed_out_by_its_own_batch_is_not_new(new_store: StoreFactory) -> None:
    store = new_store(2)
    assert await store.add(SYMBOL, [liq(1), liq(2), liq(3)]) == [liq(2), liq(3)]


async def test_a_trimmed_liquidation_written_again_stays_out(new_store: StoreFactory) -> None:
    store = new_store(2)
    await store.add(SYMBOL, [liq(1), liq(2), liq(3)])
    # liq(1) was dropped; it is older than everything kept, so it stays out.
    assert await store.add(SYMBOL, [liq(1)]) == []


# -- reads -----------------------------------------------------------------------------


async def test_recent_is_newest_first_and_bounded(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.add(SYMBOL, [liq(3), liq(1), liq(2)])
    assert await store.recent(SYMBOL, 2) == [liq(3), liq(2)]
    assert await store.recent(SYMBOL, 0) == []
    assert await store.recent("NOPEUSDT", 5) == []


async def test_since_is_oldest_first_from_the_start_inclusive(new_store: StoreFactory) -> None:
    store = new_store(10)
    await store.add(SYMBOL, [liq(s) for s in (4, 1, 3, 2)])
    assert await store.since(SYMBOL, T0 + 2000) == [liq(2), liq(3), liq(4)]
    assert await store.since(SYMBOL, T0 + 2001) == [liq(3), liq(4)]
    assert await store.since("NOPEUSDT", 0) == []


async def test_amounts_come_back_exactly(new_store: StoreFactory) -> None:
    store = new_store(10)
    exact = liq(1, quantity="123456789.123456789123456789123", price="0.00000001")
    await store.add(SYMBOL, [exact])
    (stored,) = await store.recent(SYMBOL, 1)
    assert (stored.quantity, stored.price, stored.avg_price) == (
        exact.quantity,
        exact.price,
        exact.avg_price,
    )


# -- the model -------------------------------------------------------------------------


class Model:
    """The contract in a few lines: de-duplicate by key, keep the newest ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.kept: list[tuple[int, str, Liquidation]] = []

    def add(self, batch: list[Liquidation]) -> list[Liquidation]:
        added = []
        for item in batch:
            if any(other.key == item.key for _, _, other in self.kept):
                continue
            bisect.insort(self.kept, (item.time_ms, encode_liquidation(item), item))
            added.append(item)
            del self.kept[: -self.capacity]
        kept = [entry[2] for entry in self.kept]
        return [item for item in added if item in kept]

    def recent(self) -> list[Liquidation]:
        return [entry[2] for entry in reversed(self.kept)]


liquidations = st.builds(
    liq,
    st.integers(0, 6),
    side=st.sampled_from(["BUY", "SELL"]),
    quantity=st.sampled_from(["0.5", "0.50", "1", "2.25"]),
    price=st.sampled_from(["100", "100.0", "99.5"]),
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(capacity=st.integers(1, 6), batches=st.lists(st.lists(liquidations, max_size=5)))
async def test_every_backend_matches_the_model(
    new_store: StoreFactory, capacity: int, batches: list[list[Liquidation]]
) -> None:
    store, model = new_store(capacity), Model(capacity)
    try:
        for batch in batches:
            assert await store.add(SYMBOL, batch) == model.add(batch)
            assert await store.recent(SYMBOL, capacity) == model.recent()
    finally:
        await store.aclose()


def trailing_zero(value: Decimal) -> Decimal:
    """The same value with one more digit (``1.5`` -> ``1.50``), built without rounding."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, (*digits, 0), exponent - 1))


@given(
    quantity=st.decimals(allow_nan=False, allow_infinity=False),
    price=st.decimals(min_value=0, allow_nan=False, allow_infinity=False),
)
def test_the_encoding_is_exact_and_equal_values_encode_alike(
    quantity: Decimal, price: Decimal
) -> None:
    item = Liquidation(SYMBOL, "BUY", quantity, price, price, T0)
    assert decode_liquidation(SYMBOL, encode_liquidation(item)) == item
    rescaled = Liquidation(SYMBOL, "BUY", trailing_zero(quantity), trailing_zero(price), price, T0)
    assert encode_liquidation(rescaled) == encode_liquidation(item)


def test_the_encoding_refuses_non_finite_amounts() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        encode_liquidation(liq(1, quantity="NaN"))


# -- Redis only ------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_keeps_one_prefixed_sorted_set_per_symbol(redis_url: str) -> None:
    async with RedisLiquidationStore(redis_url, prefix="mc:") as store:
        await store.add(SYMBOL, [liq(1, quantity="0.014", price="37000.10")])
    async with Redis.from_url(redis_url, decode_responses=True) as raw:
        assert await raw.keys("*") == ["mc:liquidations:BTCUSDT"]
        members = await raw.zrange("mc:liquidations:BTCUSDT", 0, -1, withscores=True)
    assert members == [(f"{T0 + 1000}:S:0.014:37000.1:37000.1", T0 + 1000)]


@pytest.mark.redis
async def test_two_nodes_writing_the_same_liquidations_store_them_once(redis_url: str) -> None:
    async with (
        RedisLiquidationStore(redis_url) as first,
        RedisLiquidationStore(redis_url) as second,
    ):
        assert await first.add(SYMBOL, [liq(1), liq(2)]) == [liq(1), liq(2)]
        assert await second.add(SYMBOL, [liq(2), liq(3)]) == [liq(3)]
        assert await first.recent(SYMBOL, 10) == [liq(3), liq(2), liq(1)]


@pytest.mark.redis
async def test_history_outlives_the_store_object(redis_url: str) -> None:
    async with RedisLiquidationStore(redis_url) as store:
        await store.add(SYMBOL, [liq(1), liq(2)])
    async with RedisLiquidationStore(redis_url) as reopened:
        assert await reopened.since(SYMBOL, 0) == [liq(1), liq(2)]


@pytest.mark.redis
async def test_an_unreachable_redis_is_store_unavailable_without_the_password() -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    async with RedisLiquidationStore(url, timeout_s=1.0) as store:
        with pytest.raises(StoreUnavailable, match="unavailable") as caught:
            await store.recent(SYMBOL, 5)
        assert "secret" not in str(caught.value)
        with pytest.raises(StoreUnavailable):
            await store.add(SYMBOL, [liq(1)])


@pytest.mark.redis
async def test_the_store_works_again_once_redis_is_back() -> None:
    server = RedisProcess(port=free_port())  # a fixed port: the URL must stay valid
    await server.start()
    try:
        async with RedisLiquidationStore(server.url, timeout_s=1.0) as store:
            await store.add(SYMBOL, [liq(1)])
            await server.stop()
            with pytest.raises(StoreUnavailable):
                await store.add(SYMBOL, [liq(2)])
            await server.start()
            assert await store.add(SYMBOL, [liq(2)]) == [liq(2)]
    finally:
        await server.stop()


@pytest.mark.redis
@pytest.mark.parametrize(
    "refusal",
    [
        lambda raw: raw.replicaof("127.0.0.1", free_port()),
        lambda raw: raw.config_set("maxmemory", 1),
    ],
    ids=["read-only replica", "out of memory"],
)
async def test_an_error_reply_to_a_write_is_store_unavailable(
    redis_process: RedisProcess, refusal: Callable[[Redis], Awaitable[object]]
) -> None:
    # READONLY, OOM, MISCONF: Redis is there but refuses; callers treat it as an outage.
    async with RedisLiquidationStore(redis_process.url, timeout_s=1.0) as store:
        await store.add(SYMBOL, [liq(1)])
        async with Redis.from_url(redis_process.url) as raw:
            await refusal(raw)
        with pytest.raises(StoreUnavailable, match="unavailable"):
            await store.add(SYMBOL, [liq(2)])


@pytest.mark.redis
async def test_a_member_that_does_not_decode_is_skipped_and_counted(redis_url: str) -> None:
    async with RedisLiquidationStore(redis_url) as store:
        await store.add(SYMBOL, [liq(1), liq(3)])
        async with Redis.from_url(redis_url) as raw:
            await raw.zadd(store.key(SYMBOL), {"garbage": T0 + 2000, f"{T0}:X:1:2:3": T0})
        assert await store.since(SYMBOL, 0) == [liq(1), liq(3)]
        assert await store.recent(SYMBOL, 10) == [liq(3), liq(1)]
        assert store.undecodable == 4
