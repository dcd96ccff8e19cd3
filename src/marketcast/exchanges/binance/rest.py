"""Binance REST market data, spot or USD-M futures: listings, tickers, time, klines
(paged), order-book snapshots and aggregate trades.

Every call goes through :class:`~marketcast.exchanges.binance.client.ThrottledClient`,
so weight, rate limits and retries are handled in one place. Paths, page sizes and
weights come from the :class:`~marketcast.exchanges.binance.markets.MarketSpec` and
:mod:`.weights`, so no method branches on the market itself.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Final

import httpx

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.market import Ticker24h
from marketcast.domain.orderbook import BookSnapshot
from marketcast.domain.topics import Topic
from marketcast.domain.trades import Trade
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.client import RestStats, ThrottledClient
from marketcast.exchanges.binance.depth import parse_depth_snapshot
from marketcast.exchanges.binance.exchange_info import (
    parse_exchange_info,
    parse_futures_exchange_info,
)
from marketcast.exchanges.binance.markets import SPOT, MarketSpec
from marketcast.exchanges.binance.messages import SymbolInfo
from marketcast.exchanges.binance.paging import (
    check_advances,
    mark_closed,
    merge_pages,
    next_page_start,
    previous_page_end,
    range_end_time,
)
from marketcast.exchanges.binance.parse import parse_rest_kline
from marketcast.exchanges.binance.routing import check_kline_interval
from marketcast.exchanges.binance.tickers import fetch_tickers_24h
from marketcast.exchanges.binance.trades import parse_agg_trades
from marketcast.exchanges.binance.weights import (
    depth_weight,
    fixed_weight,
    klines_weight,
)
from marketcast.resources import AsyncResource

MAX_AGG_TRADES_PER_CALL: Final = 1000
HISTORY_SHARE: Final = 0.5
"""Of the request weight budget, what older history may spend in a minute: the rest stays
for the live feeds' bootstraps, gap fills and resyncs."""
_LISTINGS: Final = {"spot": parse_exchange_info, "usdm": parse_futures_exchange_info}


class BinanceRest(AsyncResource):
    """Async client for the public REST API of ``market`` at ``base_url``.

    Spot paths are ``/api/v3/...``, USD-M futures ``/fapi/v1/...``. ``weight_limit``
    (request weight per minute) defaults to the market's documented limit.

    Example::

        async with BinanceRest("https://fapi.binance.com", market=USDM) as rest:
            candles = await rest.latest_klines(Topic.of("BTCUSDT", "1m"), 1000)
    """

    def __init__(
        self,
        base_url: str,
        *,
        market: MarketSpec = SPOT,
        weight_limit: int | None = None,
        max_concurrency: int = 16,
        timeout: float = 10.0,
        max_attempts: int = 6,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        outage_hint: str = "",
    ) -> None:
        self.market = market
        self._client = ThrottledClient(
            base_url,
            weight_limit=market.weight_limit if weight_limit is None else weight_limit,
            max_concurrency=max_concurrency,
            timeout=timeout,
            max_attempts=max_attempts,
            rng=rng,
            transport=transport,
            outage_hint=outage_hint,
            market=market.name,
        )

    @property
    def stats(self) -> RestStats:
        """Requests, retries, rate-limit hits and the last reported used weight."""
        return self._client.stats

    @property
    def weight_limit(self) -> int:
        """Request weight per minute budgeted for (the market's documented limit by default)."""
        return self._client.weight_limit

    async def exchange_info(self) -> list[SymbolInfo]:
        """The market's listings; on USD-M only perpetual contracts that are trading."""
        payload = await self._get("exchangeInfo", {}, fixed_weight(self.market, "exchangeInfo"))
        return _LISTINGS[self.market.name](payload)

    async def tickers_24h(self) -> list[Ticker24h]:
        """Every symbol's rolling 24-hour ticker, in one call (weight 80 spot, 40 USD-M)."""
        return await fetch_tickers_24h(
            self._client,
            path=self.market.path("ticker/24hr"),
            weight=fixed_weight(self.market, "ticker/24hr"),
        )

    async def server_time(self) -> int:
        """The exchange's clock in epoch ms."""
        payload = await self._get("time", {}, fixed_weight(self.market, "time"))
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
        limit: int | None = None,
        closed_before: int | None = None,
    ) -> list[Candle]:
        """One call to ``.../klines`` of at most ``limit`` rows (default: the market's
        most); closedness as in :func:`.paging.mark_closed`."""
        most = self.market.max_klines_per_call
        rows = await self._page(topic, start=start, end=end, limit=most if limit is None else limit)
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

        Pages forwards as many rows at a time as the market allows (1000 spot, 1500
        USD-M) and stops at an empty page or past the range.
        ``on_page`` is told the row count of each page, for progress reports. Open times
        Binance has no row for (exchange outages) are simply absent from the result.
        """
        interval = topic.interval
        end_time = range_end_time(rng, interval)
        pages: list[list[Candle]] = []
        start: int | None = rng.first
        while start is not None and start <= rng.last:
            rows = await self._page(
                topic, start=start, end=end_time, limit=self.market.max_klines_per_call
            )
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
            limit = min(count - have, self.market.max_klines_per_call)
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

    async def depth_snapshot(self, symbol: str, limit: int = 1000) -> BookSnapshot:
        """The order book of ``symbol``, ``limit`` levels per side.

        Weighted by ``limit`` as documented (spot 50, USD-M 20 for 1000 levels).

        Raises:
            ValueError: ``limit`` is not valid on the market (USD-M takes only
                5, 10, 20, 50, 100, 500 or 1000).
        """
        weight = depth_weight(self.market, limit)
        payload = await self._get("depth", {"symbol": symbol, "limit": limit}, weight)
        return parse_depth_snapshot(payload)

    async def agg_trades(
        self, symbol: str, *, from_id: int | None = None, limit: int = MAX_AGG_TRADES_PER_CALL
    ) -> list[Trade]:
        """Up to ``limit`` aggregate trades of ``symbol``, ascending id.

        From aggregate id ``from_id`` on (inclusive), or without it the most recent ones.
        """
        if not 1 <= limit <= MAX_AGG_TRADES_PER_CALL:
            raise ValueError(f"limit must be in 1..{MAX_AGG_TRADES_PER_CALL}, got {limit}")
        params: dict[str, str | int] = {"symbol": symbol, "limit": limit}
        if from_id is not None:
            params["fromId"] = from_id
        payload = await self._get("aggTrades", params, fixed_weight(self.market, "aggTrades"))
        return parse_agg_trades(payload)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, endpoint: str, params: dict[str, str | int], weight: int) -> object:
        return await self._client.get_json(self.market.path(endpoint), params, weight=weight)

    async def older_klines(self, topic: Topic, first: int, through: int) -> list[Candle]:
        """Closed candles opening in ``first..through`` (at most one call's worth), on
        :data:`HISTORY_SHARE` of the weight budget and without waiting for it.

        Raises:
            HistoryBusy: that share is spent this minute, or the exchange rate limits or
                is away; its ``retry_after`` says when to ask again.
        """
        end = topic.interval.close_time(through)
        rows = await self._page(
            topic, start=first, end=end, limit=self.market.max_klines_per_call, share=True
        )
        return mark_closed([r for r in rows if r.open_time <= through], topic.interval, end + 1)

    async def first_open(self, topic: Topic) -> int | None:
        """Open time of the exchange's first candle of ``topic`` (``None``: it has none);
        spends the history share of the budget like :meth:`older_klines`."""
        rows = await self._page(topic, start=0, end=None, limit=1, share=True)
        return rows[0].open_time if rows else None

    async def _page(
        self,
        topic: Topic,
        *,
        start: int | None,
        end: int | None,
        limit: int,
        share: bool = False,
    ) -> list[Candle]:
        most = self.market.max_klines_per_call
        if not 1 <= limit <= most:
            raise ValueError(f"limit must be in 1..{most}, got {limit}")
        check_kline_interval(self.market, topic.interval)
        params: dict[str, str | int] = {
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            "limit": limit,
        }
        if start is not None:
            params["startTime"] = start
        if end is not None:
            params["endTime"] = end
        weight = klines_weight(self.market, limit)
        if share:
            path = self.market.path("klines")
            payload = await self._client.get_json_within(
                path, params, weight=weight, share=HISTORY_SHARE
            )
        else:
            payload = await self._get("klines", params, weight)
        if not isinstance(payload, list):
            raise ExchangeProtocolError(f"klines response is not a list: {str(payload)[:200]}")
        rows = [parse_rest_kline(row, closed=False) for row in payload]
        if any(b.open_time <= a.open_time for a, b in itertools.pairwise(rows)):
            raise ExchangeProtocolError(f"klines for {topic} are not in ascending order")
        return rows
