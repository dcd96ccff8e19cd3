"""What only the Redis store has: its key layout, exact bytes, the change feed, outages."""

from __future__ import annotations

import asyncio
import math
import struct
import time
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.errors import StoreUnavailable
from marketcast.store.redis import RedisStore
from marketcast.store.redis_client import redact_url
from marketcast.store.redis_codec import CANDLE_BYTES, decode_candle, encode_candle
from support.redis_server import RedisProcess, free_port, redis_process, redis_url

__all__ = ["redis_process", "redis_url"]  # fixtures

pytestmark = pytest.mark.redis

MINUTE, MONTH = Topic.of("BTCUSDT", "1m"), Topic.of("BTCUSDT", "1M")
STEP = 60_000


def candle(index: int, *, closed: bool = True, trades: int = 5, price: float = 1.5) -> Candle:
    return Candle(index * STEP, price, price + 1, price - 0.5, price, 3.25, 4.5, trades, closed)


async def keys(url: str) -> list[str]:
    async with Redis.from_url(url, decode_responses=True) as raw:
        return sorted(str(key) for key in await raw.keys("*"))


# -- layout ----------------------------------------------------------------------------


async def test_keys_are_prefixed_and_intervals_case_sensitive(redis_url: str) -> None:
    async with RedisStore(redis_url, capacity=10, prefix="mc:") as store:
        await store.upsert(MINUTE, candle(0, price=1.0), now_ms=1)
        await store.upsert(MONTH, candle(0, price=2.0), now_ms=1)
        assert await store.last(MINUTE) == candle(0, price=1.0)
        assert await store.last(MONTH) == candle(0, price=2.0)
    assert await keys(redis_url) == [
        "mc:candles:BTCUSDT:1M",
        "mc:candles:BTCUSDT:1m",
        "mc:changes",
        "mc:meta:BTCUSDT:1M",
        "mc:meta:BTCUSDT:1m",
        "mc:topics",
    ]


async def test_stores_under_different_prefixes_do_not_share(redis_url: str) -> None:
    async with (
        RedisStore(redis_url, capacity=10) as bare,
        RedisStore(redis_url, capacity=10, prefix="other:") as other,
    ):
        await bare.upsert(MINUTE, candle(0), now_ms=1)
        assert await other.topics() == []
        assert await other.read(MINUTE, limit=5) == []
        assert "candles:BTCUSDT:1m" in await keys(redis_url)


async def test_a_candle_is_one_small_member_scored_by_open_time(redis_url: str) -> None:
    async with RedisStore(redis_url, capacity=10) as store:
        await store.upsert(MINUTE, candle(7), now_ms=1)
    async with Redis.from_url(redis_url) as raw:
        stored = await raw.zrange("candles:BTCUSDT:1m", 0, -1, withscores=True)
        meta = await raw.hgetall("meta:BTCUSDT:1m")
    [(member, score)] = cast("list[tuple[bytes, float]]", stored)
    assert (len(member), score) == (CANDLE_BYTES, 7 * STEP)
    assert (meta[b"seq"], meta[b"updated_at_ms"]) == (b"1", b"1")


# -- exact values ----------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    st.integers(0, 2**53),
    st.lists(finite, min_size=6, max_size=6),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)
def test_encoding_round_trips_every_finite_float(
    open_time: int, prices: list[float], trades: int, closed: bool
) -> None:
    o, h, lo, c, v, q = prices
    original = Candle(open_time, o, h, lo, c, v, q, trades, closed)
    assert decode_candle(encode_candle(original)) == original


async def test_awkward_floats_survive_the_store_bit_for_bit(redis_url: str) -> None:
    awkward = (0.1 + 0.2, 5e-324, 1.7976931348623157e308, math.pi, 1e-9, 67123.45000000001)
    original = Candle(1_700_000_000_000, *awkward, 2**31 - 1, False)
    async with RedisStore(redis_url, capacity=10) as store:
        await store.upsert(MINUTE, original, now_ms=1)
        [stored] = await store.read(MINUTE, limit=1)
    assert stored == original
    assert struct.pack(">6d", *awkward) == struct.pack(
        ">6d",
        stored.open,
        stored.high,
        stored.low,
        stored.close,
        stored.volume,
        stored.quote_volume,
    )


# -- change feed -----------------------------------------------------------------------


async def test_the_feed_logs_real_changes_only_with_a_seq_per_topic(redis_url: str) -> None:
    async with RedisStore(redis_url, capacity=10) as store:
        start = await store.last_change_id()
        assert start == "0-0"
        await store.upsert(MINUTE, candle(0, closed=False), now_ms=1)
        await store.upsert(MINUTE, candle(0, closed=False), now_ms=2)  # identical
        await store.upsert(MINUTE, candle(0, closed=False, trades=1), now_ms=3)  # older
        await store.upsert_many(MINUTE, [candle(0), candle(1), candle(1)], now_ms=4)
        await store.upsert(MONTH, candle(0), now_ms=5)
        changes = await store.read_changes(start, block_ms=0, count=100)
        assert [(c.topic, c.seq, c.candle, c.reset) for c in changes] == [
            (MINUTE, 1, candle(0, closed=False), False),
            (MINUTE, 2, candle(0), False),
            (MINUTE, 3, candle(1), False),
            (MONTH, 1, candle(0), False),
        ]
        assert await store.seqs() == {MINUTE: 3, MONTH: 1}
        assert await store.last_change_id() == changes[-1].stream_id
        later = await store.read_changes(changes[1].stream_id, block_ms=0, count=1)
        assert later == changes[2:3]


async def test_replace_logs_one_reset_entry(redis_url: str) -> None:
    async with RedisStore(redis_url, capacity=10) as store:
        await store.upsert(MINUTE, candle(0), now_ms=1)
        after = await store.last_change_id()
        await store.replace(MINUTE, [candle(i) for i in range(5)], now_ms=2)
        [reset] = await store.read_changes(after, block_ms=0, count=100)
    assert (reset.topic, reset.seq, reset.candle, reset.reset) == (MINUTE, 2, None, True)


async def test_a_blocked_reader_wakes_up_for_a_new_change(redis_url: str) -> None:
    async with (
        RedisStore(redis_url, capacity=10) as reader,
        RedisStore(redis_url, capacity=10) as writer,
    ):
        after = await reader.last_change_id()
        waiting = asyncio.create_task(reader.read_changes(after, block_ms=5_000, count=10))
        await asyncio.sleep(0.05)
        await writer.upsert(MINUTE, candle(3), now_ms=1)
        [change] = await asyncio.wait_for(waiting, timeout=2)
        assert (change.seq, change.candle) == (1, candle(3))
        began = time.monotonic()
        assert await reader.read_changes(change.stream_id, block_ms=100, count=10) == []
        assert 0.05 < time.monotonic() - began < 2


async def test_concurrent_writers_keep_one_seq_per_change(redis_url: str) -> None:
    async with RedisStore(redis_url, capacity=500) as a, RedisStore(redis_url, capacity=500) as b:

        async def write(store: RedisStore, first: int) -> int:
            changed = 0
            for i in range(first, first + 100):
                changed += await store.upsert(MINUTE, candle(i % 150), now_ms=i) is not None
            return changed

        total = sum(await asyncio.gather(write(a, 0), write(b, 50)))
        changes = await a.read_changes("0-0", block_ms=0, count=1_000)
        assert [c.seq for c in changes] == list(range(1, total + 1))
        assert total == 150
        assert await a.open_times(MINUTE) == [i * STEP for i in range(150)]


# -- outages ---------------------------------------------------------------------------


async def test_a_restarted_redis_is_reached_again_by_the_same_store(
    redis_process: RedisProcess,
) -> None:
    async with RedisStore(redis_process.url, capacity=10) as store:
        await store.upsert(MINUTE, candle(0), now_ms=1)
        await redis_process.kill()
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{redis_process.port}"):
            await store.upsert(MINUTE, candle(1), now_ms=2)
        with pytest.raises(StoreUnavailable):
            await store.read_changes("0-0", block_ms=100, count=10)
        await redis_process.restart()
        assert await store.upsert(MINUTE, candle(1), now_ms=3) == candle(1)  # scripts reloaded
        assert await store.read(MINUTE, limit=5) == [candle(1)]  # nothing persisted
        [change] = await store.read_changes("0-0", block_ms=0, count=10)
        assert change.candle == candle(1)
        await redis_process.stop()
        with pytest.raises(StoreUnavailable):
            await store.info(MINUTE)


async def test_a_closed_port_fails_fast_without_leaking_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    store = RedisStore(url, capacity=10)  # no I/O yet
    began = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        await store.read(MINUTE, limit=5)
    assert time.monotonic() - began < 2
    assert "hunter2" not in str(caught.value)
    assert ":***@127.0.0.1" in str(caught.value)
    await store.aclose()


def test_redacting_a_url_masks_only_the_password() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("redis://user:pw@host:6380/2") == "redis://user:***@host:6380/2"
    assert redact_url("rediss://:pw@[::1]/0") == "rediss://:***@[::1]/0"
