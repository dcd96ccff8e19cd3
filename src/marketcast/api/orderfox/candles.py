"""OrderFox's chart data from the one candle pipeline (``docs/orderfox.md``).

Routes (prefix ``/api/v1``)::

    WS  /ws/candles/{symbol}/{timeframe}?container_width=
    WS  /ws/candles/{symbol}?timeframe=&container_width=     (timeframe defaults to 1m)
    GET /candles/{symbol}?timeframe=&limit=

A socket first gets ``historical_candles`` (the newest candles, the symbol's metadata as
``symbolData``), then one ``candle_update`` per stored change of the topic. It subscribes
before it reads the history (:func:`~marketcast.api.feeds.candles.attach`), so a chart that
upserts updates by ``time`` holds a continuous series. ``time`` (seconds) is the open
time, never null: TradingView's chart throws on a null time. Candle rows also carry
``closed`` (whether the exchange has finalised the candle).

How many candles: ``clamp(container_width // 2, 200, 1000)``, OrderFox's
``(width / 6) * 3`` (three candles per six pixels). Without ``container_width`` the width
is OrderFox's own default, 800 pixels: 400 candles (neither upstream frontend sends the
parameter, so a smaller default left their charts' left part empty). The buffer size caps
both the socket and REST (``limit`` 1..buffer size, default 200; outside it a 400
``{"detail","status_code"}``).
"""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from marketcast.api.feeds.candles import attach, candle_topic_ready, read_then_send
from marketcast.api.feeds.shapes import candle_native
from marketcast.api.orderfox.envelope import PREFIX, error_response
from marketcast.api.orderfox.sockets import OrderfoxSocket, open_socket
from marketcast.api.orderfox.symbols import symbol_meta
from marketcast.api.params import documented, parse_limit, query
from marketcast.api.state import app_state
from marketcast.api.transport.messages import Json, dumps
from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.errors import InvalidRequest, MarketcastError
from marketcast.hub.candles.bus import Published

MIN_CANDLES = 200
MAX_CANDLES = 1000
DEFAULT_CONTAINER_WIDTH = 800  # OrderFox's default chart width, in pixels
DEFAULT_TIMEFRAME = "1m"

router = APIRouter(prefix=PREFIX)


def candle_count(container_width: int | None) -> int:
    """Candles for a chart ``container_width`` pixels wide (module docstring)."""
    if container_width is None:
        container_width = DEFAULT_CONTAINER_WIDTH
    return max(MIN_CANDLES, min(container_width // 2, MAX_CANDLES))


def parse_container_width(raw: str | None) -> int | None:
    """A positive width in pixels; fractional widths (``812.5``) are floored."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1:
        raise InvalidRequest(f"container_width must be a positive number of pixels, not {raw!r}")
    return int(value)


def candle_row(c: Candle) -> Json:
    """One chart candle: the native row plus ``timestamp``; ``timestamp`` (ms) and
    ``time`` (s) are both the open time."""
    return {"timestamp": c.open_time, **candle_native(c)}


def time_range(candles: list[Candle]) -> dict[str, int | None]:
    """First and last open time (ms) of ``candles``; both ``None`` when there are none."""
    if not candles:
        return {"start": None, "end": None}
    return {"start": candles[0].open_time, "end": candles[-1].open_time}


def encode_candle_update(event: Published) -> str:
    """A bus encoder: run once per stored change, the text shared by every chart.

    ``stream_timestamp`` is when the change was published (this host's clock, ms): the
    encoder runs as the bus delivers it to the first chart.
    """
    body = {
        "type": "candle_update",
        "symbol": event.topic.symbol,
        "timeframe": event.topic.interval.code,
        **candle_row(event.candle),
        "stream_timestamp": int(time.time() * 1000),
    }
    return dumps(body)


@router.websocket("/ws/candles/{symbol}/{timeframe}")
async def candles_by_path(websocket: WebSocket, symbol: str, timeframe: str) -> None:
    await _serve_candles(websocket, symbol, timeframe)


@router.websocket("/ws/candles/{symbol}")
async def candles_by_query(websocket: WebSocket, symbol: str) -> None:
    await _serve_candles(websocket, symbol, websocket.query_params.get("timeframe"))


async def _serve_candles(websocket: WebSocket, symbol: str, timeframe: str | None) -> None:
    socket = await open_socket(websocket, symbol)
    if socket is None:
        return
    try:
        interval = Interval.parse(timeframe or DEFAULT_TIMEFRAME)
        width = parse_container_width(websocket.query_params.get("container_width"))
        await _attach_chart(socket, Topic(socket.symbol, interval), candle_count(width))
    except (MarketcastError, TimeoutError) as error:
        await socket.refuse(error)
        return
    await socket.serve()


async def _attach_chart(socket: OrderfoxSocket, topic: Topic, count: int) -> None:
    """Queue ``historical_candles`` and then every ``candle_update``, without a gap."""
    hub = socket.state.hub
    await candle_topic_ready(socket.state, topic)
    meta = await symbol_meta(socket.state, topic.symbol)

    async def history() -> list[Candle]:
        return await hub.store.read(topic, limit=min(count, hub.store.capacity))

    def send_history(candles: list[Candle]) -> None:
        socket.send(
            {
                "type": "historical_candles",
                "symbol": topic.symbol,
                "timeframe": topic.interval.code,
                "data": [candle_row(c) for c in candles],
                "count": len(candles),
                "time_range": time_range(candles),
                "symbolData": meta.to_camel_json(),
            }
        )

    await attach(
        socket.session,
        hub,
        topic,
        encoder=encode_candle_update,
        snapshot=read_then_send(history, send_history),
    )


@router.get(
    "/candles/{symbol}",
    openapi_extra=documented(
        query("timeframe", "an interval, default 1m", type="string"),
        query("limit", "default 200", type="integer", minimum=1),
    ),
)
async def get_candles(request: Request, symbol: str) -> Response:
    """The newest ``limit`` candles as the socket's ``data``, with ``priceFormat``."""
    state = app_state(request)
    query = request.query_params
    try:
        limit = parse_limit(
            query.get("limit"), default=MIN_CANDLES, maximum=state.settings.buffer_size
        )
        interval = Interval.parse(query.get("timeframe") or DEFAULT_TIMEFRAME)
        topic = Topic(state.hub.resolve_symbol(symbol), interval)
        await candle_topic_ready(state, topic)
        candles = await state.hub.store.read(topic, limit=limit)
        meta = await symbol_meta(state, topic.symbol)
    except MarketcastError as error:
        return error_response(error)
    body = {
        "symbol": topic.symbol,
        "timeframe": interval.code,
        "data": [candle_row(c) for c in candles],
        "count": len(candles),
        "time_range": time_range(candles),
        "priceFormat": dict(meta.price_format),
    }
    return JSONResponse(body)
