"""USD-M futures REST routes (``/fapi/v1/...``) and the liquidation-history service.

The futures routes go through the same pipeline as spot (:func:`.spot.endpoint`: latency
and error faults, downtime, weight limit, parameter errors) but charge futures weights
against the futures budget (2400 a minute by default). They serve the same tape as spot.

``GET /liquidation-history/{symbol}`` stands in for the external service OrderFox reads
its last liquidations from (``LIQUIDATION_API_BASE_URL``): not a Binance endpoint, so it
has no weight, no Binance faults and FastAPI-style errors ``{"detail": ...}``. It serves
the same liquidations as ``@forceOrder``, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from marketcast.exchanges.sim.rest.spot import (
    JsonResponse,
    Producer,
    endpoint,
    kline_rows,
    ping,
    server_time,
)
from marketcast.exchanges.sim.runtime import SimRuntime
from marketcast.exchanges.sim.truth.tradelog import agg_trades_for, newest_trades
from marketcast.exchanges.sim.wire.futures import futures_exchange_info, futures_ticker
from marketcast.exchanges.sim.wire.params import (
    FUTURES_MAX_KLINES_LIMIT,
    TRADES_LIMITS,
    futures_depth_weight,
    futures_klines_weight,
    parse_agg_trades,
    parse_futures_depth,
    parse_klines,
    parse_limited,
    parse_symbols,
)

FUTURES_KLINES_PATH: Final = "/fapi/v1/klines"
HISTORY_DEFAULT_LIMIT: Final = 50
HISTORY_MAX_LIMIT: Final = 1000


def _exchange_info(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    tape = runtime.usdm.tape
    symbols = sorted(runtime.usdm.listed, key=tape.symbols.index)
    limit = runtime.config.futures_weight_limit_per_minute
    return 1, lambda: futures_exchange_info(tape, symbols, runtime.clock.now_ms(), limit)


def _klines(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    listed = runtime.usdm.listed
    query = parse_klines(params, listed, max_limit=FUTURES_MAX_KLINES_LIMIT, futures=True)
    runtime.stats.klines_requests[(FUTURES_KLINES_PATH, query.symbol, query.interval.code)] += 1
    return futures_klines_weight(query.limit), kline_rows(runtime, query, runtime.usdm)


def _depth(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    symbol, limit = parse_futures_depth(params, runtime.usdm.listed)

    def snapshot() -> Any:
        now = runtime.clock.now_ms()
        book = runtime.usdm.books[symbol].at(now)
        return runtime.futures_formatters[symbol].depth_snapshot_at(book, limit, now)

    return futures_depth_weight(limit), snapshot


def _trades(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    symbol, limit = parse_limited(params, runtime.usdm.listed, TRADES_LIMITS)
    formatter = runtime.futures_formatters[symbol]

    def rows() -> list[Any]:
        found = newest_trades(runtime.usdm.tape, symbol, runtime.clock.now_ms(), limit)
        return [formatter.trade_row(trade) for trade in found]

    return 5, rows


def _agg_trades(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    query = parse_agg_trades(params, runtime.usdm.listed)
    formatter = runtime.futures_formatters[query.symbol]

    def rows() -> list[Any]:
        found = agg_trades_for(runtime.usdm.tape, query, runtime.clock.now_ms())
        return [formatter.agg_row(trade) for trade in found]

    return 20, rows


def _ticker(runtime: SimRuntime, params: Mapping[str, str]) -> tuple[int, Producer]:
    chosen = parse_symbols(params, runtime.usdm.listed)
    tape = runtime.usdm.tape
    symbols = chosen or sorted(runtime.usdm.listed, key=tape.symbols.index)

    def tickers() -> Any:
        now = runtime.clock.now_ms()
        found = [futures_ticker(tape, symbol, now) for symbol in symbols]
        return found[0] if chosen else found

    return (1 if chosen else 40), tickers


async def _liquidation_history(request: Request) -> Response:
    runtime: SimRuntime = request.app.state.sim
    symbol = request.path_params["symbol"].upper()
    runtime.stats.rest_requests[request.url.path] += 1
    if symbol not in runtime.usdm.listed:
        return _detail(404, f"Symbol {symbol} has no USD-M perpetual")
    try:
        limit, start, end = _history_query(request.query_params)
    except ValueError as error:
        return _detail(400, str(error))
    now = runtime.clock.now_ms()
    found = runtime.liquidations.newest(symbol, min(now, end or now), limit, start)
    formatter = runtime.futures_formatters[symbol]
    return JsonResponse({"symbol": symbol, "data": [formatter.history_row(f) for f in found]})


def _history_query(params: Mapping[str, str]) -> tuple[int, int | None, int | None]:
    """``limit`` (1..1000, default 50), ``start_time`` and ``end_time`` in ms."""
    values: dict[str, int | None] = {}
    for name in ("limit", "start_time", "end_time"):
        raw = params.get(name)
        if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) <= 20):
            raise ValueError(f"{name} must be a non-negative integer")
        values[name] = None if raw is None else int(raw)
    limit = values["limit"]
    if limit is None:
        limit = HISTORY_DEFAULT_LIMIT
    elif not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {HISTORY_MAX_LIMIT}")
    start, end = values["start_time"], values["end_time"]
    if start is not None and end is not None and start > end:
        raise ValueError("start_time is after end_time")
    return limit, start, end


def _detail(status: int, detail: str) -> Response:
    return JsonResponse({"detail": detail}, status)


def futures_routes() -> list[Route]:
    """``/fapi/v1`` routes with their USD-M weights, and the liquidation history."""
    return [
        Route("/fapi/v1/ping", endpoint(ping, 1, "usdm")),
        Route("/fapi/v1/time", endpoint(server_time, 1, "usdm")),
        Route("/fapi/v1/exchangeInfo", endpoint(_exchange_info, 1, "usdm")),
        Route(FUTURES_KLINES_PATH, endpoint(_klines, 5, "usdm")),
        Route("/fapi/v1/depth", endpoint(_depth, 10, "usdm")),
        Route("/fapi/v1/trades", endpoint(_trades, 5, "usdm")),
        Route("/fapi/v1/aggTrades", endpoint(_agg_trades, 20, "usdm")),
        Route("/fapi/v1/ticker/24hr", endpoint(_ticker, 1, "usdm")),
        Route("/liquidation-history/{symbol}", _liquidation_history),
    ]
