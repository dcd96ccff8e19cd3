"""Liquidation history in Redis, so it survives restarts and is shared by every node.

Layout (``{p}`` is the configured prefix)::

    {p}liquidations:BTCUSDT   sorted set, score = time (ms), member = encoded liquidation

Members are :func:`~marketcast.store.liquidations.encode_liquidation` texts. A write is one
Lua script (``store/lua/liquidations_add.lua``) that skips keys already stored and trims
to ``capacity``, so concurrent writers never store a liquidation twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Final, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from marketcast.domain.liquidations import Liquidation
from marketcast.resources import AsyncResource
from marketcast.store.liquidations import (
    DEFAULT_CAPACITY,
    check_symbol,
    decode_members,
    encode_liquidation,
    key_prefix,
)
from marketcast.store.redis_client import connect, lua, outage_log, unavailable_on

log = logging.getLogger(__name__)

# Down, too slow, or refusing (READONLY replica, OOM, MISCONF, BUSY): for a caller all of
# these mean "Redis cannot keep liquidations right now", and all of them pass.
_UNAVAILABLE: Final = (redis_errors.RedisError, OSError)


class RedisLiquidationStore(AsyncResource):
    """A :class:`~marketcast.store.liquidations.LiquidationStore` in Redis.

    Nothing connects until the first call. A Redis that is down, too slow or answers with an
    error surfaces as :class:`~marketcast.errors.StoreUnavailable`; the same object works
    again once it is back. Reads skip members that do not decode, counting them in
    :attr:`undecodable` (with a warning).
    """

    def __init__(
        self,
        url: str,
        *,
        capacity: int = DEFAULT_CAPACITY,
        prefix: str = "",
        timeout_s: float = 5.0,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.url = url
        self.prefix = prefix
        self._timeout_s = timeout_s
        self._client: Redis | None = None
        self._add: AsyncScript | None = None
        self.undecodable = 0

    def key(self, symbol: str) -> str:
        return f"{self.prefix}liquidations:{symbol}"

    @property
    def _redis(self) -> Redis:
        if self._client is None:
            self._client = connect(
                self.url,
                timeout_s=self._timeout_s,
                socket_timeout=self._timeout_s,
                name="marketcast-liquidations",
            )
            self._add = self._client.register_script(lua("liquidations_add"))
        return self._client

    def _reaching(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return unavailable_on(_UNAVAILABLE, outage_log(self.url), operation)

    async def add(self, symbol: str, liquidations: Sequence[Liquidation]) -> list[Liquidation]:
        check_symbol(symbol, liquidations)
        if not liquidations:
            return []
        args: list[Any] = [self.capacity]
        for liquidation in liquidations:
            args += (liquidation.time_ms, key_prefix(liquidation), encode_liquidation(liquidation))
        with self._reaching("liquidations_add"):
            client = self._redis
            script = self._add or client.register_script(lua("liquidations_add"))
            positions: list[int] = await script(keys=[self.key(symbol)], args=args, client=client)
        return [liquidations[position - 1] for position in positions]

    async def recent(self, symbol: str, limit: int) -> list[Liquidation]:
        if limit <= 0:
            return []
        with self._reaching("liquidations_recent"):
            found = await self._redis.zrange(self.key(symbol), 0, limit - 1, desc=True)
        return self._decoded(symbol, cast("list[bytes]", found))

    async def since(self, symbol: str, start_ms: int) -> list[Liquidation]:
        with self._reaching("liquidations_since"):
            found = await self._redis.zrange(self.key(symbol), start_ms, "+inf", byscore=True)
        return self._decoded(symbol, cast("list[bytes]", found))

    def _decoded(self, symbol: str, members: list[bytes]) -> list[Liquidation]:
        decoded, undecodable = decode_members(symbol, members)
        if undecodable:
            self.undecodable += len(undecodable)
            log.warning(
                "skipped %d undecodable %s liquidations in %s, e.g. %r",
                len(undecodable),
                symbol,
                self.key(symbol),
                undecodable[0][:80],
            )
        return decoded

    async def aclose(self) -> None:
        client, self._client, self._add = self._client, None, None
        if client is not None:
            await client.aclose()
