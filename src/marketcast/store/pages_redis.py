"""Older-history pages in Redis, shared by every node on it, for a while.

Layout (``{p}`` is the configured prefix)::

    {p}history:{market}:{symbol}:{interval}:{page first open ms}   string, expires

Redis away or a value that does not decode is a miss (the page is fetched from the
exchange again), never an error a client sees.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Final

import orjson
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from marketcast.domain.history_pages import Page
from marketcast.errors import StoreUnavailable
from marketcast.resources import AsyncResource
from marketcast.store.pages import decode_page, encode_page
from marketcast.store.redis_client import connect, outage_log, unavailable_on

log = logging.getLogger(__name__)

_UNAVAILABLE: Final = (redis_errors.RedisError, OSError)


class RedisPages(AsyncResource):
    """Pages in Redis for ``ttl_s`` seconds, shared by every node on that Redis."""

    def __init__(self, url: str, *, prefix: str, ttl_s: int, timeout_s: float = 5.0) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._timeout_s = timeout_s

    def key(self, key: str) -> str:
        return f"{self.prefix}history:{key}"

    @functools.cached_property
    def _redis(self) -> Redis:
        """Made on first use: a node that never pages back never connects."""
        timeout = self._timeout_s
        return connect(
            self.url, timeout_s=timeout, socket_timeout=timeout, name="marketcast-history"
        )

    async def get(self, key: str) -> Page | None:
        try:
            with unavailable_on(_UNAVAILABLE, outage_log(self.url), "history_get"):
                raw = await self._redis.get(self.key(key))
        except StoreUnavailable as error:
            log.debug("history page %s not read from the cache: %s", key, error)
            return None
        if raw is None:
            return None
        try:
            return decode_page(raw if isinstance(raw, bytes) else raw.encode())
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("history page %s in Redis does not decode; fetching it again", key)
            return None

    async def put(self, key: str, page: Page) -> None:
        with (
            contextlib.suppress(StoreUnavailable),
            unavailable_on(_UNAVAILABLE, outage_log(self.url), "history_put"),
        ):
            await self._redis.set(self.key(key), encode_page(page), ex=self.ttl_s)

    async def aclose(self) -> None:
        if "_redis" in self.__dict__:
            await self._redis.aclose()
