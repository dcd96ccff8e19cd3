"""REST routes: native (SPEC 4) and SmartTrade's (SPEC 6), all reading the one store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.formats import candle_native, candle_smarttrade_ms
from marketcast.api.params import parse_hours, parse_limit, parse_time
from marketcast.api.state import AppState, app_state
from marketcast.api.status import health, streaming_status
from marketcast.domain.intervals import HOUR_MS, Interval
from marketcast.domain.topics import Topic

router = APIRouter()


def _json(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


async def _topic(state: AppState, symbol: str, interval: str) -> Topic:
    topic = Topic(state.hub.resolve_symbol(symbol), Interval.parse(interval))
    await state.hub.topic_ready(topic)
    return topic


@router.get("/health")
async def get_health(request: Request) -> Response:
    return _json(health(app_state(request)))


@router.get("/ready")
async def get_ready(request: Request) -> Response:
    hub = app_state(request).hub
    done, total = hub.bootstrap_progress()
    body = {"ready": hub.ready, "bootstrap": {"done": done, "total": total}}
    return _json(body, 200 if hub.ready else 503)


@router.get("/symbols")
async def get_symbols(request: Request) -> Response:
    return _json({"symbols": list(app_state(request).hub.symbols)})


@router.get("/api/symbols")
async def get_api_symbols(request: Request) -> Response:
    symbols = list(app_state(request).hub.symbols)
    return _json({"symbols": symbols, "count": len(symbols)})


@router.get("/candles/{symbol}/{interval}")
async def get_candles(request: Request, symbol: str, interval: str) -> Response:
    state = app_state(request)
    query = request.query_params
    limit = parse_limit(query.get("limit"), default=500, maximum=state.settings.buffer_size)
    since = parse_time(query.get("since"), "since")
    before = parse_time(query.get("before"), "before")
    topic = await _topic(state, symbol, interval)
    candles = await state.hub.store.read(topic, limit=limit, since=since, before=before)
    return _json(
        {
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            "candles": [candle_native(c) for c in candles],
        }
    )


@router.get("/api/historical/{symbol}")
async def get_historical(request: Request, symbol: str) -> Response:
    state = app_state(request)
    query = request.query_params
    hours = parse_hours(query.get("hours"), default=12, maximum=24 * 366)
    topic = await _topic(state, symbol, query.get("interval", "1m"))
    last = await state.hub.store.last(topic)
    # "Now" is the exchange's clock as the newest candle shows it, not this host's.
    since = topic.interval.next_open(last.open_time) - hours * HOUR_MS if last else None
    candles = await state.hub.store.read(topic, limit=state.settings.buffer_size, since=since)
    return _json(
        {
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            "hours": hours,
            "count": len(candles),
            "data": [candle_smarttrade_ms(c) for c in candles],
        }
    )


@router.get("/streaming/status")
async def get_streaming_status(request: Request) -> Response:
    return _json(await streaming_status(app_state(request)))
