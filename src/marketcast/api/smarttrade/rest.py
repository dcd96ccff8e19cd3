"""SmartTrade's own REST routes: ``/api/symbols`` and ``/api/historical/{symbol}``.

SmartTrade's other routes (``/health``, ``/symbols``, ``/candles/{symbol}/{interval}``,
``/streaming/status``, ``/signals/{symbol}/{interval}``) are the native ones
(:mod:`marketcast.api.native`), whose bodies keep SmartTrade's fields.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.feeds.candles import ready_topic
from marketcast.api.params import documented, parse_hours, query
from marketcast.api.smarttrade.formats import candle_smarttrade_ms
from marketcast.api.state import app_state
from marketcast.domain.intervals import HOUR_MS

router = APIRouter()


@router.get("/api/symbols")
async def get_api_symbols(request: Request) -> Response:
    symbols = list(app_state(request).hub.symbols)
    return JSONResponse({"symbols": symbols, "count": len(symbols)})


@router.get(
    "/api/historical/{symbol}",
    openapi_extra=documented(
        query("interval", "default 1m", type="string"),
        query("hours", "1..8784, default 12", type="integer", minimum=1),
    ),
)
async def get_historical(request: Request, symbol: str) -> Response:
    state = app_state(request)
    query = request.query_params
    hours = parse_hours(query.get("hours"), default=12, maximum=24 * 366)
    topic = await ready_topic(state, symbol, query.get("interval", "1m"))
    last = await state.hub.store.last(topic)
    # "Now" is the exchange's clock as the newest candle shows it, not this host's.
    since = topic.interval.next_open(last.open_time) - hours * HOUR_MS if last else None
    candles = await state.hub.store.read(topic, limit=state.settings.buffer_size, since=since)
    return JSONResponse(
        {
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            "hours": hours,
            "count": len(candles),
            "data": [candle_smarttrade_ms(c) for c in candles],
        }
    )
