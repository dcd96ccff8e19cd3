"""One ingest leader per market, elected through a Redis lease.

Every ingest-capable node runs :meth:`LeaderLease.run`. The holder of the key
``{prefix}leader:{market}`` renews it every third of its time-to-live; the others try to
take it as often. A leader that cannot renew for a whole TTL (Redis unreachable, a long
pause) steps down at two thirds of the TTL, before anyone else can have taken over. If
two nodes ever ingest at once (a frozen process that wakes up), it is harmless for the
candles themselves: the store's upserts follow the version rules.

After a Redis restart without persistence the key is simply gone; the leader that was
holding it claims it again on its next renewal instead of stepping down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

from marketcast.metrics import LEADER

log = logging.getLogger(__name__)

# Renew only if we still hold the lease, or nobody does (the key vanished with a restart).
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

Hook = Callable[[], Awaitable[None]]


class LeaderLease:
    def __init__(
        self, url: str, *, market: str, node_id: str, ttl_s: float = 3.0, prefix: str = ""
    ) -> None:
        self.key = f"{prefix}leader:{market}"
        self.node_id = node_id
        self.ttl_ms = int(ttl_s * 1000)
        self._redis = redis.from_url(url, socket_timeout=ttl_s / 3, socket_connect_timeout=1.0)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self.leader = False
        self.transitions = 0
        self._gauge = LEADER.labels(market)
        self._gauge.set(0)

    async def _try(self, script: bool) -> bool:
        if script:
            return bool(await self._renew(keys=[self.key], args=[self.node_id, self.ttl_ms]))
        return bool(await self._redis.set(self.key, self.node_id, nx=True, px=self.ttl_ms))

    async def run(self, on_acquired: Hook, on_lost: Hook) -> None:
        """Contend for the lease forever, calling the hooks on every change of role.

        A renewal counts from the moment it was *sent*, and each attempt is bounded, so a
        leader cut off from Redis steps down at two thirds of the TTL: before its key can
        expire and a standby take over, never after.
        """
        ttl_s = self.ttl_ms / 1000
        period = ttl_s / 3
        renewed_at = float("-inf")
        unreachable = False
        while True:
            sent_at = time.monotonic()
            try:
                async with asyncio.timeout(period):
                    held = await self._try(script=self.leader)
            except (RedisError, TimeoutError) as error:
                held = self.leader and sent_at - renewed_at < ttl_s * 2 / 3
                if not unreachable:  # once per outage, not once per renewal
                    log.warning("leader lease %s: redis unavailable: %s", self.key, error)
                unreachable = True
            else:
                if unreachable:
                    log.warning("leader lease %s: redis reachable again", self.key)
                unreachable = False
                if held:
                    renewed_at = sent_at
            if held and not self.leader:
                self.leader, self.transitions = True, self.transitions + 1
                self._gauge.set(1)
                log.warning("leader lease %s acquired by %s", self.key, self.node_id)
                await on_acquired()
            elif not held and self.leader:
                self.leader, self.transitions = False, self.transitions + 1
                self._gauge.set(0)
                log.warning("leader lease %s lost by %s", self.key, self.node_id)
                await on_lost()
            await asyncio.sleep(max(0.0, period - (time.monotonic() - sent_at)))

    async def aclose(self) -> None:
        """Hand the lease over at once instead of letting it expire (clean shutdown)."""
        if self.leader:
            self._gauge.set(0)
            with contextlib.suppress(RedisError):  # if not, it expires by itself
                await self._release(keys=[self.key], args=[self.node_id])
        await self._redis.aclose()
