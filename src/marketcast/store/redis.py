"""The shared store: candle history in Redis, so several nodes serve one truth.

Layout (``{p}`` is the configured prefix; see :mod:`marketcast.store.redis_codec`)::

    {p}candles:BTCUSDT:1m   sorted set, score = open time, member = 61-byte candle
    {p}meta:BTCUSDT:1m      hash: updated_at_ms, gaps (JSON), seq
    {p}topics               set of "BTCUSDT:1m" names
    {p}changes              stream: topic, seq, candle | reset=1

Every write is one Lua script (``store/lua/``), so the version rule, the capacity trim,
the metadata and the change-feed entry commit together or not at all. The change feed
is what lets API-only nodes follow the ingest leader: each topic's ``seq`` grows by one
per stored change, so a follower that sees a jump knows it missed something and re-reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any, Final, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.series import merge_gaps
from marketcast.domain.topics import Topic
from marketcast.resources import AsyncResource
from marketcast.store.interface import TopicInfo
from marketcast.store.redis_client import connect, lua, outage_log, unavailable_on
from marketcast.store.redis_codec import (
    Change,
    RedisKeys,
    decode_candle,
    decode_change,
    decode_gaps,
    encode_candle,
    encode_gaps,
    parse_topic_name,
    topic_name,
)

FEED_MAX_LEN: Final = 100_000
# Failures that mean "Redis is not there right now" rather than "we sent nonsense".
_UNREACHABLE: Final = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


class RedisStore(AsyncResource):
    """A :class:`~marketcast.store.interface.CandleStore` in Redis, plus a change feed.

    Nothing connects until the first call. A Redis that is down, restarting or too slow
    surfaces as :class:`~marketcast.errors.StoreUnavailable`; the same object works again
    once Redis is back.
    """

    def __init__(
        self, url: str, *, capacity: int, prefix: str = "", timeout_s: float = 5.0
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.url = url
        self._keys = RedisKeys(prefix)
        self._timeout_s = timeout_s
        self._client: Redis | None = None
        self._feed_client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    # -- connection --------------------------------------------------------------------

    def _connect(self, *, socket_timeout: float | None) -> Redis:
        return connect(
            self.url, timeout_s=self._timeout_s, socket_timeout=socket_timeout, name="marketcast"
        )

    @property
    def _redis(self) -> Redis:
        if self._client is None:
            self._client = self._connect(socket_timeout=self._timeout_s)
            for name in ("upsert", "replace", "open_times"):
                self._scripts[name] = self._client.register_script(lua(name))
        return self._client

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        client = self._redis  # registers the scripts on first use
        return await self._scripts[script](keys=keys, args=args, client=client)

    def _reaching(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return unavailable_on(_UNREACHABLE, outage_log(self.url), operation)

    def _write_keys(self, topic: Topic) -> list[str]:
        keys = self._keys
        return [keys.candles(topic), keys.meta(topic), keys.topics, keys.changes]

    # -- writes ------------------------------------------------------------------------

    async def upsert(self, topic: Topic, candle: Candle, *, now_ms: int) -> Candle | None:
        changed = await self.upsert_many(topic, [candle], now_ms=now_ms)
        return changed[0] if changed else None

    async def upsert_many(
        self, topic: Topic, candles: Sequence[Candle], *, now_ms: int
    ) -> list[Candle]:
        args: list[Any] = [self.capacity, now_ms, topic_name(topic), FEED_MAX_LEN]
        for candle in candles:
            args += (candle.open_time, encode_candle(candle))
        with self._reaching("upsert_many"):
            positions: list[int] = await self._run("upsert", self._write_keys(topic), args)
        return [candles[position - 1] for position in positions]

    async def replace(self, topic: Topic, candles: Sequence[Candle], *, now_ms: int) -> None:
        by_time = {candle.open_time: candle for candle in candles}
        kept = [by_time[t] for t in sorted(by_time)][-self.capacity :]
        args: list[Any] = [now_ms, topic_name(topic), FEED_MAX_LEN]
        for candle in kept:
            args += (candle.open_time, encode_candle(candle))
        with self._reaching("replace"):
            await self._run("replace", self._write_keys(topic), args)

    async def add_exchange_gaps(self, topic: Topic, gaps: Iterable[TimeRange]) -> None:
        new = list(gaps)
        if not new:
            return
        meta = self._keys.meta(topic)
        with self._reaching("add_exchange_gaps"):
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:  # optimistic: redo the merge if the hash changed meanwhile
                    try:
                        await pipe.watch(meta)
                        known = decode_gaps(await pipe.hget(meta, "gaps"))
                        merged = merge_gaps([*known, *new], topic.interval)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.hset(meta, "gaps", encode_gaps(merged))
                        await pipe.execute()
                        return
                    except redis_errors.WatchError:
                        continue

    async def forget(self, topic: Topic) -> None:
        with self._reaching("forget"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._keys.candles(topic), self._keys.meta(topic))
                pipe.srem(self._keys.topics, topic_name(topic))
                await pipe.execute()

    # -- reads -------------------------------------------------------------------------

    def revision(self, topic: Topic) -> int | None:
        # Other nodes write too: knowing whether the topic changed costs a round trip,
        # about what the read itself costs, so reads from Redis are never cached.
        return None

    async def last(self, topic: Topic) -> Candle | None:
        with self._reaching("last"):
            raw = cast("list[bytes]", await self._redis.zrange(self._keys.candles(topic), -1, -1))
        return decode_candle(raw[0]) if raw else None

    async def read(
        self,
        topic: Topic,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
    ) -> list[Candle]:
        if limit <= 0:
            return []
        key = self._keys.candles(topic)
        upper = "+inf" if before is None else f"({before}"
        with self._reaching("read"):
            if since is not None:
                found = await self._redis.zrange(
                    key, since, upper, byscore=True, offset=0, num=limit
                )
            else:
                found = await self._redis.zrange(
                    key, upper, "-inf", byscore=True, desc=True, offset=0, num=limit
                )
                found.reverse()
        return [decode_candle(member) for member in cast("list[bytes]", found)]

    async def open_times(self, topic: Topic) -> list[int]:
        with self._reaching("open_times"):
            times: list[int] = await self._run("open_times", [self._keys.candles(topic)], [])
        return times

    async def info(self, topic: Topic) -> TopicInfo:
        key = self._keys.candles(topic)
        with self._reaching("info"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zcard(key)
                pipe.zrange(key, 0, 0)
                pipe.zrange(key, -1, -1)
                pipe.hmget(self._keys.meta(topic), ["updated_at_ms", "gaps"])
                count, first, last, (updated_at, gaps) = await pipe.execute()
        return TopicInfo(
            topic=topic,
            count=count,
            first=decode_candle(first[0]) if first else None,
            last=decode_candle(last[0]) if last else None,
            updated_at_ms=int(updated_at) if updated_at is not None else None,
            exchange_gaps=tuple(decode_gaps(gaps)),
        )

    async def topics(self) -> list[Topic]:
        with self._reaching("topics"):
            names = await self._redis.smembers(self._keys.topics)
        return sorted((parse_topic_name(name) for name in names), key=topic_name)

    # -- change feed -------------------------------------------------------------------

    async def seqs(self) -> dict[Topic, int]:
        """Each registered topic's latest sequence number (0 before its first change)."""
        topics = await self.topics()
        with self._reaching("seqs"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for topic in topics:
                    pipe.hget(self._keys.meta(topic), "seq")
                seqs: list[bytes | None] = await pipe.execute()
        return {topic: int(seq or 0) for topic, seq in zip(topics, seqs, strict=True)}

    async def last_change_id(self) -> str:
        """Id of the newest feed entry ("0-0" when empty): read from here for news only."""
        with self._reaching("last_change_id"):
            newest = await self._redis.xrevrange(self._keys.changes, "+", "-", count=1)
        return cast("bytes", newest[0][0]).decode() if newest else "0-0"

    async def read_changes(self, after_id: str, *, block_ms: int, count: int) -> list[Change]:
        """Up to ``count`` feed entries after ``after_id``, oldest first.

        Waits up to ``block_ms`` for the first one; ``block_ms <= 0`` returns at once
        (unlike XREAD's ``BLOCK 0``, which would wait forever).
        """
        if self._feed_client is None:
            # Its own connection, without a socket timeout: a blocking read is not a
            # stalled one, so the deadline is set per call instead.
            self._feed_client = self._connect(socket_timeout=None)
        with self._reaching("read_changes"):
            async with asyncio.timeout(max(block_ms, 0) / 1000 + self._timeout_s):
                reply = await self._feed_client.xread(
                    {self._keys.changes: after_id},
                    count=count,
                    block=block_ms if block_ms > 0 else None,
                )
        # decode_responses=False and RESP2: [[stream, [(id, {field: value})...]]]
        streams = cast("list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]", reply)
        return [
            decode_change(entry_id, fields)
            for _, entries in streams
            for entry_id, fields in entries
        ]

    async def aclose(self) -> None:
        clients = (self._client, self._feed_client)
        self._client = self._feed_client = None
        self._scripts.clear()
        for client in clients:
            if client is not None:
                await client.aclose()
