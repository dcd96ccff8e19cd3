"""Binance spot REST market data: exchange info, server time and klines (paged).

Every call goes through :class:`~marketcast.exchanges.binance.client.ThrottledClient`,
so weight, rate limits and retries are handled in one place.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Final

import httpx

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.market import Ticker24h
from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.client import RestStats, ThrottledClient
from marketcast.exchanges.binance.messages import SymbolInfo
from marketcast.exchanges.binance.paging import (
    KLINES_WEIGHT,
    MAX_KLINES_PER_CALL,
    check_advances,
    mark_closed,
    merge_pages,
    next_page_start,
    previous_page_end,
    range_end_time,
)
from marketcast.exchanges.binance.parse import parse_exchange_info, parse_rest_kline
from marketcast.exchanges.binance.tickers import fetch_tickers_24h
from marketcast.resources import AsyncResource

EXCHANGE_INFO_WEIGHT: Final = 20
TIME_WEIGHT: Final = 1


class BinanceRest(AsyncResource):
    """Async client for the public spot REST API at ``base_url`` (paths ``/api/v3/...``).

    Example::

        async with BinanceRest("https://api.binance.com") as rest:
            candles = await rest.latest_klines(Topic.of("BTCUSDT", "1m"), 1000)
    """

    def __init__(
        self,
        base_url: str,
        *,
        weight_limit: int = 6000,
        max_concurrency: int = 16,
        timeout: float = 10.0,
        max_attempts: int = 6,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = ThrottledClient(
            base_url,
            weight_limit=weight_limit,
            max_concurrency=max_concurrency,
            timeout=timeout,
            max_attempts=max_attempts,
            rng=rng,
            transport=transport,
        )

    @property
    def stats(self) -> RestStats:
        """Requests, retries, rate-limit hits and the last reported used weight."""
        return self._client.stats

    async def exchange_info(self) -> list[SymbolInfo]:
        payload = await self._client.get_json(
            "/api/v3/exchangeInfo", {}, weight=EXCHANGE_INFO_WEIGHT
        )
        return parse_exchange_info(payload)

    async def tickers_24h(self) -> list[Ticker24h]:
        """Every symbol's rolling 24-hour ticker, in one call of weight 80."""
        return await fetch_tickers_24h(self._client)

    async def server_time(self) -> int:
        """The exchange's clock in epoch ms."""
        payload = await self._client.get_json("/api/v3/time", {}, weight=TIME_WEIGHT)
        value = payload.get("serverTime") if isinstance(payload, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ExchangeProtocolError(f"server time response without serverTime: {payload!r}")
        return value

    async def klines(
        self,
        topic: Topic,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = MAX_KLINES_PER_CALL,
        closed_before: int | None = None,
    ) -> list[Candle]:
        """One call to ``/api/v3/klines``; closedness as in :func:`.paging.mark_closed`."""
        rows = await self._page(topic, start=start, end=end, limit=limit)
        return mark_closed(rows, topic.interval, closed_before)

    async def klines_range(
        self,
        topic: Topic,
        rng: TimeRange,
        *,
        closed_before: int | None,
        on_page: Callable[[int], None] | None = None,
    ) -> list[Candle]:
        """Every candle opening in ``rng`` (inclusive), sorted, one per open time.

        Pages forwards 1000 rows at a time and stops at an empty page or past the range.
        ``on_page`` is told the row count of each page, for progress reports. Open times
        Binance has no row for (exchange outages) are simply absent from the result.
        """
        interval = topic.interval
        end_time = range_end_time(rng, interval)
        pages: list[list[Candle]] = []
        start: int | None = rng.first
        while start is not None and start <= rng.last:
            rows = await self._page(topic, start=start, end=end_time, limit=MAX_KLINES_PER_CALL)
            if on_page is not None:
                on_page(len(rows))
            check_advances(start, rows)
            pages.append(rows)
            start = next_page_start(rows, interval)
        return mark_closed(merge_pages(pages, rng), interval, closed_before)

    async def latest_klines(self, topic: Topic, count: int) -> list[Candle]:
        """The newest ``count`` candles, oldest first; the newest one counts as forming."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        pages: list[list[Candle]] = []
        have = 0
        end: int | None = None
        while have < count:
            limit = min(count - have, MAX_KLINES_PER_CALL)
            rows = await self._page(topic, start=None, end=end, limit=limit)
            if not rows:
                break
            pages.append(rows)
            have += len(rows)
            if len(rows) < limit:
                break  # with only endTime, a short page means nothing older exists
            end = previous_page_end(rows)
        merged = merge_pages(reversed(pages))
        return mark_closed(merged[-count:], topic.interval, None)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _page(
        self, topic: Topic, *, start: int | None, end: int | None, limit: int
    ) -> list[Candle]:
        if not 1 <= limit <= MAX_KLINES_PER_CALL:
            raise ValueError(f"limit must be in 1..{MAX_KLINES_PER_CALL}, got {limit}")
        params: dict[str, str | int] = {
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            "limit": limit,
        }
        if start is not None:
            params["startTime"] = start
        if end is not None:
            params["endTime"] = end
        payload = await self._client.get_json("/api/v3/klines", params, weight=KLINES_WEIGHT)
        if not isinstance(payload, list):
            raise ExchangeProtocolError(f"klines response is not a list: {str(payload)[:200]}")
        rows = [parse_rest_kline(row, closed=False) for row in payload]
        if any(b.open_time <= a.open_time for a, b in itertools.pairwise(rows)):
            raise ExchangeProtocolError(f"klines for {topic} are not in ascending order")
        return rows
