"""Native REST routes, all reading the one store (SmartTrade's clients use them too).

``/health``, ``/ready``, ``/symbols``, ``/candles/{symbol}/{interval}`` and
``/streaming/status`` are also SmartTrade's routes, with the same bodies; its own
``/api/...`` routes are in :mod:`marketcast.api.smarttrade.rest`.

The order book, trades and liquidations routes return the body of the matching ``/ws``
snapshot (shapes in :mod:`marketcast.api.native.formats`, rules in
:mod:`marketcast.api.native.channels`): ``GET /orderbook/{symbol}?limit=&rounding=``,
``GET /depth/{symbol}?limit=`` (the exact book, :mod:`marketcast.api.native.depth`),
``GET /trades/{symbol}?limit=&since=`` (``since``: a trade id), ``GET
/liquidations/{symbol}?limit=&timeframe=&start_time=&end_time=`` (buckets only with a
``timeframe``; times in seconds or ms, default everything held).

Every route that names a symbol takes ``market`` (``spot`` | ``usdm``, default the node's)
and accepts ccxt's unified symbols, which hold a slash (``BTC/USDT:USDT``): hence the
``{symbol:path}`` routes. Liquidations exist only on USD-M: ``/liquidations`` answers
USD-M's whatever the default market and refuses any other market named.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.feeds.candles import ready_topic
from marketcast.api.feeds.history import read_candles
from marketcast.api.feeds.lookup import (
    ALL_TIME,
    DEFAULT_BOOK_LIMIT,
    DEFAULT_LIQUIDATIONS_LIMIT,
    DEFAULT_TRADES_LIMIT,
    LIQUIDATIONS_MARKET,
    depth_maximum,
    liquidations_market,
)
from marketcast.api.feeds.shapes import candle_native
from marketcast.api.native.channels import read_book, read_liquidations, read_trades
from marketcast.api.native.depth import DEFAULT_DEPTH_LIMIT, read_depth
from marketcast.api.native.protocol import parse_rounding
from marketcast.api.native.status import health, streaming_status
from marketcast.api.params import (
    LIMIT_DOC,
    MARKET_PARAMETER,
    TIME_DOC,
    documented,
    natural,
    parse_limit,
    parse_time,
    query,
)
from marketcast.api.state import AppState, app_state, market_state
from marketcast.domain.liquidations import parse_timeframe
from marketcast.domain.topics import Topic
from marketcast.errors import InvalidRequest

router = APIRouter()


JSON: Final = "application/json"


def _json(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


@router.get("/health")
async def get_health(request: Request) -> Response:
    return _json(health(app_state(request)))


@router.get("/ready")
async def get_ready(request: Request) -> Response:
    """Ready once every market's configured topics are bootstrapped."""
    hubs = [market.hub for market in app_state(request).markets.values()]
    progress = [hub.bootstrap_progress() for hub in hubs]
    ready = all(hub.ready for hub in hubs)
    done, total = sum(p[0] for p in progress), sum(p[1] for p in progress)
    body = {"ready": ready, "bootstrap": {"done": done, "total": total}}
    return _json(body, 200 if ready else 503)


@router.get("/symbols", openapi_extra=documented(MARKET_PARAMETER))
async def get_symbols(request: Request) -> Response:
    """The configured symbols of the default market (SmartTrade's body), or of ``market``."""
    market = request.query_params.get("market")
    state = app_state(request).on(market)
    body: dict[str, Any] = {"symbols": list(state.hub.symbols)}
    return _json(body | ({"market": state.market} if market else {}))


async def get_candles(request: Request) -> Response:
    """``GET /candles/{symbol}/{interval}``: the route charts load history from."""
    query = request.query_params
    given = request.path_params["symbol"]
    state, symbol = market_state(app_state(request), given, query.get("market"))
    interval = request.path_params["interval"]
    # SmartTrade's clients share this route: the market is named only when asked for.
    echo = {"market": state.market} if query.get("market") or "/" in given else {}
    limit = parse_limit(query.get("limit"), default=500, maximum=state.settings.buffer_size)
    since = parse_time(query.get("since"), "since")
    before = parse_time(query.get("before"), "before")
    topic = await ready_topic(state, symbol, interval)
    store = state.hub.store
    # Only the plain "newest N" shape is cached: that is what charts load, and `since`
    # values are as many as the clients' histories.
    revision = store.revision(topic) if since is None and before is None else None
    if revision is not None and not echo:
        _replay(request, state, topic, limit)
        cached = state.candle_bodies.get(topic, revision, limit)
        if cached is not None:
            return Response(cached, media_type=JSON)
    found = await read_candles(state, topic, limit, since, before)
    # Only an answer older history took part in says where the exchange has no candles
    # and whether the symbol's history starts here: the buffer's bodies stay as they were.
    extra: dict[str, Any] = {}
    if found.gaps:
        extra["gaps"] = [[gap.first // 1000, gap.last // 1000] for gap in found.gaps]
    if found.first_open is not None:
        extra["history_start"] = found.first_open // 1000
    body = orjson.dumps(
        {
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            **echo,
            "candles": [candle_native(c) for c in found.candles],
            **extra,
        }
    )
    if revision is not None and not echo:
        state.candle_bodies.put(topic, revision, limit, body)
    return Response(body, media_type=JSON)


def _replay(request: Request, state: AppState, topic: Topic, limit: int) -> None:
    """Let the replay layer answer this very request again while its body holds."""
    hub, bodies = state.hub, state.candle_bodies

    def current() -> bytes | None:
        if not hub.serving(topic):
            return None
        revision = hub.store.revision(topic)
        return None if revision is None else bodies.get(topic, revision, limit)

    state.replays.remember(request.scope, current)


# A plain Starlette route: FastAPI's per-request machinery (parameter binding, exit
# stack) was a quarter of this route's cost in bench/rest.py, and it binds nothing here.
# Middleware, error mapping and access control apply as to every route.
router.add_route("/candles/{symbol:path}/{interval}", get_candles, methods=["GET"])

# A plain route is not in the generated OpenAPI document: this is its entry.
CANDLES_OPENAPI: dict[str, Any] = {
    "get": {
        "summary": "Get Candles",
        "description": "Candles of one topic, oldest first (the route charts load history from).",
        "operationId": "get_candles_candles__symbol___interval__get",
        "parameters": [
            {"name": "symbol", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "interval", "in": "path", "required": True, "schema": {"type": "string"}},
            query("limit", LIMIT_DOC + "; default 500", type="integer", minimum=1),
            query("since", TIME_DOC + ": candles from this open time on", type="integer"),
            MARKET_PARAMETER,
            query(
                "before",
                TIME_DOC + ": candles opened before this; older than the buffer, they come "
                "from the exchange (then `gaps` and `history_start` may be in the body)",
                type="integer",
            ),
        ],
        "responses": {"200": {"description": "the candles"}},
    }
}


@router.get("/streaming/status")
async def get_streaming_status(request: Request) -> Response:
    return _json(await streaming_status(app_state(request)))


@router.get(
    "/orderbook/{symbol:path}",
    openapi_extra=documented(
        query("limit", LIMIT_DOC + "; levels per side, default 20", type="integer", minimum=1),
        query("rounding", "one of the symbol's rounding_options", type="string"),
        MARKET_PARAMETER,
    ),
)
async def get_orderbook(request: Request, symbol: str) -> Response:
    query = request.query_params
    state, symbol = market_state(app_state(request), symbol, query.get("market"))
    maximum = state.settings.max_orderbook_limit
    limit = parse_limit(query.get("limit"), default=DEFAULT_BOOK_LIMIT, maximum=maximum)
    rounding = parse_rounding(query.get("rounding"))
    return _json(await read_book(state, state.hub.resolve_symbol(symbol), limit, rounding))


@router.get(
    "/depth/{symbol:path}",
    openapi_extra=documented(
        query(
            "limit",
            LIMIT_DOC + "; levels per side, default 100, at most BOOK_DEPTH (1000 unless "
            "set), and at most 1000 with market=usdm (the most a USD-M snapshot holds)",
            type="integer",
            minimum=1,
        ),
        MARKET_PARAMETER,
    ),
)
async def get_depth(request: Request, symbol: str) -> Response:
    state, symbol = market_state(app_state(request), symbol, request.query_params.get("market"))
    limit = parse_limit(
        request.query_params.get("limit"), default=DEFAULT_DEPTH_LIMIT, maximum=depth_maximum(state)
    )
    return _json(await read_depth(state, state.hub.resolve_symbol(symbol), limit))


@router.get(
    "/trades/{symbol:path}",
    openapi_extra=documented(
        query("limit", LIMIT_DOC + "; default 50", type="integer", minimum=1),
        query("since", "the id of the last trade the client holds", type="integer", minimum=0),
        MARKET_PARAMETER,
    ),
)
async def get_trades(request: Request, symbol: str) -> Response:
    query = request.query_params
    state, symbol = market_state(app_state(request), symbol, query.get("market"))
    maximum = state.settings.trade_history
    limit = parse_limit(query.get("limit"), default=DEFAULT_TRADES_LIMIT, maximum=maximum)
    since = _trade_id(query.get("since"))
    return _json(await read_trades(state, state.hub.resolve_symbol(symbol), limit, since))


@router.get(
    "/liquidations/{symbol:path}",
    openapi_extra=documented(
        query("limit", LIMIT_DOC + "; default 50", type="integer", minimum=1),
        query("timeframe", "volume buckets: 1m 5m 15m 30m 1h 4h 1d", type="string"),
        query("start_time", TIME_DOC, type="integer", minimum=0),
        query("end_time", TIME_DOC, type="integer", minimum=0),
        query(
            "market",
            "usdm, the only market with liquidations (they are USD-M's also without it); "
            "a ccxt unified symbol must name it too (BTC/USDT:USDT)",
            type="string",
            enum=[LIQUIDATIONS_MARKET],
        ),
    ),
)
async def get_liquidations(request: Request, symbol: str) -> Response:
    query = request.query_params
    state, symbol = liquidations_market(app_state(request), symbol, query.get("market"))
    maximum = state.settings.liquidation_history
    limit = parse_limit(query.get("limit"), default=DEFAULT_LIQUIDATIONS_LIMIT, maximum=maximum)
    volume = None
    if timeframe := query.get("timeframe"):
        start = parse_time(query.get("start_time"), "start_time")
        end = parse_time(query.get("end_time"), "end_time")
        start_ms, end_ms = start or 0, ALL_TIME[1] if end is None else end
        if start_ms >= end_ms:
            raise InvalidRequest(f"start_time must be before end_time ({start_ms} >= {end_ms})")
        volume = (parse_timeframe(timeframe), start_ms, end_ms)
    body = await read_liquidations(state, state.hub.resolve_symbol(symbol), limit, volume)
    return _json(body)


def _trade_id(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if (value := natural(raw)) is None:
        raise InvalidRequest(f"since must be a non-negative integer trade id, got {raw!r}")
    return value
