"""Caches of older-history pages: in memory bounded by bytes (Redis: :mod:`.pages_redis`).

Pages (:class:`~marketcast.domain.history_pages.Page`) are kept encoded, so the memory
cache counts exactly the bytes it holds and every cache shares one encoding. A cache is
only ever a shortcut: a miss fetches the page from the exchange again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

import orjson

from marketcast.domain.candles import Candle
from marketcast.domain.history_pages import Page


def encode_page(page: Page) -> bytes:
    rows = [
        [c.open_time, c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades]
        for c in page.candles
    ]
    return orjson.dumps({"through": page.through, "rows": rows})


def decode_page(raw: bytes) -> Page:
    """The page ``raw`` encodes (orjson gives floats back bit for bit)."""
    body = orjson.loads(raw)
    candles = tuple(
        Candle(int(t), o, h, low, c, v, q, int(n), closed=True)
        for t, o, h, low, c, v, q, n in body["rows"]
    )
    return Page(candles, int(body["through"]))


class PageCache(Protocol):
    async def get(self, key: str) -> Page | None: ...

    async def put(self, key: str, page: Page) -> None: ...


class MemoryPages:
    """The most recently used pages, at most ``max_bytes`` of them encoded."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._pages: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    async def get(self, key: str) -> Page | None:
        raw = self._pages.get(key)
        if raw is None:
            return None
        self._pages.move_to_end(key)
        return decode_page(raw)

    async def put(self, key: str, page: Page) -> None:
        self._store(key, encode_page(page))

    def _store(self, key: str, raw: bytes) -> None:
        old = self._pages.pop(key, None)
        if old is not None:
            self.bytes -= len(old)
        if len(raw) > self.max_bytes:
            return  # larger than the whole cache: holding it would evict everything
        self._pages[key] = raw
        self.bytes += len(raw)
        while self.bytes > self.max_bytes:
            _, evicted = self._pages.popitem(last=False)
            self.bytes -= len(evicted)


class LayeredPages:
    """Memory in front of a shared cache: a page found there is kept in memory too."""

    def __init__(self, near: MemoryPages, far: PageCache) -> None:
        self.near = near
        self.far = far

    async def get(self, key: str) -> Page | None:
        page = await self.near.get(key)
        if page is None:
            page = await self.far.get(key)
            if page is not None:
                await self.near.put(key, page)
        return page

    async def put(self, key: str, page: Page) -> None:
        await self.near.put(key, page)
        await self.far.put(key, page)
