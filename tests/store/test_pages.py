"""Caches of older-history pages: memory bounded by the bytes it holds, most recently used
kept; Redis shared and expiring; a cache in trouble is a miss, never an error."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from marketcast.domain.candles import Candle
from marketcast.domain.history_pages import Page
from marketcast.store.pages import LayeredPages, MemoryPages, decode_page, encode_page
from marketcast.store.pages_redis import RedisPages
from support.redis_server import free_port, redis_url

__all__ = ["redis_url"]


def page(first: int, count: int = 3) -> Page:
    candles = tuple(
        Candle(first + i, 100.1 + i, 101.7, 99.3, 100.9, 0.1 + 0.2, 31.0000001, 7, closed=True)
        for i in range(count)
    )
    return Page(candles, first + count - 1)


def test_a_page_survives_its_encoding_bit_for_bit() -> None:
    original = page(1_000)
    assert decode_page(encode_page(original)) == original


async def test_memory_keeps_the_most_recently_used_pages_within_its_bytes() -> None:
    size = len(encode_page(page(0)))
    cache = MemoryPages(max_bytes=2 * size)
    await cache.put("a", page(0))
    await cache.put("b", page(0))
    assert await cache.get("a") == page(0)  # "a" is now the most recently used
    await cache.put("c", page(0))
    assert (await cache.get("b"), len(cache), cache.bytes) == (None, 2, 2 * size)
    assert await cache.get("a") == page(0)
    # A page larger than the whole cache is not held (it would evict everything).
    await cache.put("huge", page(0, count=50))
    assert (await cache.get("huge"), len(cache)) == (None, 2)
    # A page stored again replaces itself, counted once.
    await cache.put("a", page(0, count=2))
    assert cache.bytes == size + len(encode_page(page(0, count=2)))


@pytest.mark.redis
async def test_redis_pages_are_shared_and_expire(redis_url: str) -> None:
    async with (
        RedisPages(redis_url, prefix="mc:", ttl_s=600) as writer,
        RedisPages(redis_url, prefix="mc:", ttl_s=600) as reader,
    ):
        await writer.put("spot:BTCUSDT:1m:0", page(0))
        assert await reader.get("spot:BTCUSDT:1m:0") == page(0)
        assert await reader.get("spot:BTCUSDT:1m:60000") is None
    async with Redis.from_url(redis_url) as raw:
        assert 590 <= await raw.ttl("mc:history:spot:BTCUSDT:1m:0") <= 600
        await raw.set("mc:history:spot:BTCUSDT:1m:0", b"not a page")
    async with RedisPages(redis_url, prefix="mc:", ttl_s=600) as reader:
        assert await reader.get("spot:BTCUSDT:1m:0") is None  # fetched again, not an error


async def test_an_unreachable_redis_is_a_miss_and_a_put_is_dropped() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with RedisPages(url, prefix="", ttl_s=60, timeout_s=1.0) as cache:
        await cache.put("k", page(0))
        assert await cache.get("k") is None
        layered = LayeredPages(MemoryPages(1 << 20), cache)
        await layered.put("k", page(0))
        assert await layered.get("k") == page(0)  # memory still serves


@pytest.mark.redis
async def test_a_page_found_in_redis_is_kept_in_memory_too(redis_url: str) -> None:
    async with RedisPages(redis_url, prefix="", ttl_s=60) as far:
        await far.put("k", page(5))
        near = MemoryPages(1 << 20)
        layered = LayeredPages(near, far)
        assert await layered.get("k") == page(5)
        assert await near.get("k") == page(5)
