"""Binance spot REST routes of the simulator, and the request pipeline the futures routes
(:mod:`.futures`) share.

Every response carries ``X-MBX-USED-WEIGHT-1M`` of its market (spot and USD-M futures
have separate budgets). In order, a request may be delayed
(latency fault), failed by an armed REST fault, refused with 503 during a downtime,
refused with 429/418 by the weight limiter, refused with 400 for bad parameters, and
only then served.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from marketcast.exchanges.sim.runtime import SimRuntime, Venue
from marketcast.exchanges.sim.truth.tradelog import agg_trades_for, newest_trades
from marketcast.exchanges.sim.wire.params import (
    DEPTH_LIMITS,
    TRADES_LIMITS,
    ApiError,
    KlinesQuery,
    depth_weight,
    parse_agg_trades,
    parse_klines,
    parse_limited,
    parse_symbols,
    ticker_weight,
)
from marketcast.exchanges.sim.wire.spot import error_body, exchange_info
from marketcast.exchanges.sim.wire.streams import Market
from marketcast.exchanges.sim.wire.ticker import ticker_24hr

WEIGHT_HEADER: Final = "X-MBX-USED-WEIGHT-1M"
KLINES_PATH: Final = "/api/v3/klines"
_DEFAULT_RETRY_AFTER: Final = {429: 1.0, 418: 120.0}
_TOO_MUCH_WEIGHT: Final = (
    "Too much request weight used; please use WebSocket Streams for live updates to avoid "
    "polling the API."
)
_BANNED: Final = (
    "Way too much request weight used; IP banned. Please use WebSocket Streams for live "
    "updates to avoid bans."
)

Producer = Callable[[], Any]
Planner = Callable[[SimRuntime, Mapping[str, str]], tuple[int, Producer]]


class JsonResponse(Response):
    """JSON rendered with orjson, as compact as Binance's."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ping(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    """``/ping``, the same on both markets."""
    return 1, dict


def server_time(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    """``/time``, the same on both markets."""
    return 1, lambda: {"serverTime": runtime.clock.now_ms()}


def _exchange_info(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    symbols = parse_symbols(params, runtime.listed) or runtime.tape.symbols
    specs = [runtime.tape.spec(s) for s in symbols]
    limit = runtime.config.weight_limit_per_minute
    return 20, lambda: exchange_info(specs, runtime.clock.now_ms(), limit)


def _klines(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    query = parse_klines(params, runtime.listed)
    runtime.stats.klines_requests[(KLINES_PATH, query.symbol, query.interval.code)] += 1
    return 2, kline_rows(runtime, query, runtime.spot)


def kline_rows(runtime: SimRuntime, query: KlinesQuery, venue: Venue) -> Producer:
    """The rows of a klines page as ``venue`` (spot or USD-M) formats them, read when the
    response is produced (after the simulated latency), as the exchange would."""

    def rows() -> list[list[Any]]:
        found = runtime.truth(venue.market).page(
            query.symbol,
            query.interval,
            runtime.clock.now_ms(),
            query.limit,
            start_ms=query.start_ms,
            end_ms=query.end_ms,
        )
        formatter = venue.klines[query.symbol]
        return [formatter.row(kline) for kline in found]

    return rows


def _ticker(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    chosen = parse_symbols(params, runtime.listed)
    symbols = chosen or runtime.tape.symbols

    def tickers() -> Any:
        now = runtime.clock.now_ms()
        found = [ticker_24hr(runtime.tape, symbol, now) for symbol in symbols]
        return found[0] if "symbol" in params else found

    return ticker_weight(chosen), tickers


def _trades(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    symbol, limit = parse_limited(params, runtime.listed, TRADES_LIMITS)
    formatter = runtime.spot.formatters[symbol]

    def rows() -> list[Any]:
        found = newest_trades(runtime.tape, symbol, runtime.clock.now_ms(), limit)
        return [formatter.trade_row(trade) for trade in found]

    return 25, rows


def _agg_trades(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    query = parse_agg_trades(params, runtime.listed)
    formatter = runtime.spot.formatters[query.symbol]

    def rows() -> list[Any]:
        found = agg_trades_for(runtime.tape, query, runtime.clock.now_ms())
        return [formatter.agg_row(trade) for trade in found]

    return 4, rows


def _depth(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    symbol, limit = parse_limited(params, runtime.listed, DEPTH_LIMITS, truncate=True)

    def snapshot() -> Any:
        book = runtime.books[symbol].at(runtime.clock.now_ms())
        return runtime.spot.formatters[symbol].depth_snapshot(book, limit)

    return depth_weight(limit), snapshot


def endpoint(
    planner: Planner, base_weight: int, market: Market = "spot"
) -> Callable[[Request], Any]:
    """A route handler serving ``planner`` under ``market``'s weight budget;
    ``base_weight`` is charged for requests refused with 400."""

    async def serve(request: Request) -> Response:
        return await _serve(request, planner, base_weight, market)

    return serve


async def _serve(request: Request, planner: Planner, base_weight: int, market: Market) -> Response:
    runtime: SimRuntime = request.app.state.sim
    runtime.stats.rest_requests[request.url.path] += 1
    if runtime.rest_faults.latency_s > 0:
        await asyncio.sleep(runtime.rest_faults.latency_s)
    injected = runtime.rest_faults.take(market)
    if injected is not None:
        return failure(*injected, used=0)
    if runtime.down_now():
        return failure(503, None, used=0)
    try:
        weight, produce = planner(runtime, request.query_params)
    except ApiError as error:
        weight, produce = base_weight, _raiser(error)
    decision = runtime.venue(market).limiter.charge(weight, runtime.wall_time())
    if decision.status != 200:
        return failure(decision.status, float(decision.retry_after_s), decision.used)
    headers = {WEIGHT_HEADER: str(decision.used)}
    try:
        return JsonResponse(produce(), headers=headers)
    except ApiError as error:
        return JsonResponse(error_body(error.api_code, error.msg), error.status, headers)


def _raiser(error: ApiError) -> Producer:
    def produce() -> Any:
        raise error

    return produce


def failure(status: int, retry_after: float | None, used: int) -> Response:
    headers = {WEIGHT_HEADER: str(used)}
    if status in _DEFAULT_RETRY_AFTER:
        seconds = retry_after if retry_after is not None else _DEFAULT_RETRY_AFTER[status]
        headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    if status == 429:
        body = error_body(-1003, _TOO_MUCH_WEIGHT)
    elif status == 418:
        body = error_body(-1003, _BANNED)
    elif status == 502:
        html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        return Response(html, 502, headers, media_type="text/html")
    elif status == 503:
        body = error_body(-1008, "Service Unavailable.")
    else:
        body = error_body(-1000, "An unknown error occurred while processing the request.")
    return JsonResponse(body, status, headers)


def rest_routes() -> list[Route]:
    """The REST routes, each with its Binance weight."""
    return [
        Route("/api/v3/ping", endpoint(ping, 1)),
        Route("/api/v3/time", endpoint(server_time, 1)),
        Route("/api/v3/exchangeInfo", endpoint(_exchange_info, 20)),
        Route(KLINES_PATH, endpoint(_klines, 2)),
        Route("/api/v3/ticker/24hr", endpoint(_ticker, 2)),
        Route("/api/v3/trades", endpoint(_trades, 25)),
        Route("/api/v3/aggTrades", endpoint(_agg_trades, 4)),
        Route("/api/v3/depth", endpoint(_depth, 5)),
    ]
