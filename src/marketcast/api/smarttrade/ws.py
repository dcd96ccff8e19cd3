"""SmartTrade's WebSocket contract (``docs/smarttrade.md``), served from the same pipeline.

Routes are declared most specific first: ``/ws/candles`` and ``/ws/candles/{symbol}``
must win over ``/ws/{symbol}``, or ``candles`` would be taken for a symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket

from marketcast.api.errors import CLOSE_UNKNOWN_SYMBOL
from marketcast.api.feeds.candles import attach, read_then_send
from marketcast.api.smarttrade.formats import (
    candle_smarttrade,
    candle_smarttrade_ms,
    encode_smarttrade_candle,
    encode_smarttrade_live,
)
from marketcast.api.state import AppState, app_state
from marketcast.api.transport.messages import dumps
from marketcast.api.transport.session import ClientSession
from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded, InvalidRequest, MarketcastError

router = APIRouter()

HISTORICAL_LIMIT = 720
# A SmartTrade client loads REST history before it subscribes (or reconnects after a
# blip). Re-sending the recent candles on subscribe closes that window: whatever closed
# or opened in between still reaches it (clients upsert by time, repeats are harmless).
CATCH_UP_MS = 120_000
CATCH_UP_INTERVALS = 2


def _candle_messages(topic: Topic, session: ClientSession) -> Callable[[list[Candle]], None]:
    def send(candles: list[Candle]) -> None:
        for candle in candles:
            body = {
                "type": "candle",
                "symbol": topic.symbol,
                "interval": topic.interval.code,
                "candle": candle_smarttrade(candle),
            }
            session.send(dumps(body))

    return send


async def _attach_candles(
    state: AppState, session: ClientSession, topic: Topic
) -> Callable[[], None]:
    await state.hub.topic_ready(topic)

    async def newest() -> list[Candle]:
        store = state.hub.store
        last = await store.last(topic)
        if last is None:
            return []
        window = max(CATCH_UP_MS, CATCH_UP_INTERVALS * topic.interval.nominal_ms)
        return await store.read(topic, limit=store.capacity, since=last.open_time - window)

    return await attach(
        session,
        state.hub,
        topic,
        encoder=encode_smarttrade_candle,
        snapshot=read_then_send(newest, _candle_messages(topic, session)),
    )


def _requested_topics(state: AppState, message: Any) -> tuple[bool, list[Topic]]:
    """``(replace, topics)`` from ``{"symbol","interval"}`` or ``{"subscriptions":[...]}``."""
    if isinstance(message, dict) and isinstance(message.get("subscriptions"), list):
        items, replace = message["subscriptions"], True
    elif isinstance(message, dict) and "symbol" in message:
        items, replace = [message], False
    else:
        raise InvalidRequest(
            'send {"symbol": "BTCUSDT", "interval": "1m"} or {"subscriptions": [...]}'
        )
    topics = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
            raise InvalidRequest("each subscription needs a symbol and an interval")
        interval = Interval.parse(str(item.get("interval", "1m")))
        topics.append(Topic(state.hub.resolve_symbol(item["symbol"]), interval))
    return replace, topics


@router.websocket("/ws/candles")
async def candles_multi(websocket: WebSocket) -> None:
    state = app_state(websocket)
    session = await state.sockets.open(websocket)
    if session is None:
        return
    active: dict[Topic, Callable[[], None]] = {}

    async def handle(session: ClientSession, raw: str) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidRequest("message is not valid JSON") from None
        replace, topics = _requested_topics(state, message)
        resulting = set(topics) if replace else set(active) | set(topics)
        cap = state.settings.max_subscriptions_per_connection
        if len(resulting) > cap:  # checked before anything changes
            raise CapacityExceeded(f"at most {cap} subscriptions per connection")
        if replace:
            for topic in set(active) - set(topics):
                active.pop(topic)()
        for topic in topics:
            if topic not in active:
                active[topic] = await _attach_candles(state, session, topic)
            names = {"symbol": topic.symbol, "interval": topic.interval.code}
            session.send(dumps({"type": "subscribed", **names}))

    await session.serve(state.sockets.reader(session, handle))


async def _single_topic_session(
    websocket: WebSocket, symbol: str, default_interval: str
) -> tuple[AppState, ClientSession, Topic] | None:
    """Open a per-symbol socket; unknown symbol → ``error`` then close 4000."""
    state = app_state(websocket)
    session = await state.sockets.open(websocket)
    if session is None:
        return None
    try:
        interval = Interval.parse(websocket.query_params.get("interval", default_interval))
        topic = Topic(state.hub.resolve_symbol(symbol), interval)
        await state.hub.topic_ready(topic)
    except (MarketcastError, TimeoutError) as error:
        await websocket.send_text(dumps({"type": "error", "message": str(error) or "not ready"}))
        await websocket.close(CLOSE_UNKNOWN_SYMBOL, "unknown symbol or interval")
        return None
    return state, session, topic


async def _ignore(session: ClientSession, raw: str) -> None:
    """These per-symbol sockets take no client messages; a ping gets a pong."""
    if raw.strip() in ('{"type":"ping"}', '{"type": "ping"}', "ping"):
        session.send('{"type":"pong"}')


@router.websocket("/ws/candles/{symbol}")
async def candles_single(websocket: WebSocket, symbol: str) -> None:
    opened = await _single_topic_session(websocket, symbol, "1m")
    if opened is None:
        return
    state, session, topic = opened
    await _attach_candles(state, session, topic)
    await session.serve(state.sockets.reader(session, _ignore))


@router.websocket("/ws/{symbol}")
async def proposal(websocket: WebSocket, symbol: str) -> None:
    opened = await _single_topic_session(websocket, symbol, "1m")
    if opened is None:
        return
    state, session, topic = opened

    async def historical() -> list[Candle]:
        return await state.hub.store.read(topic, limit=HISTORICAL_LIMIT)

    def send_historical(candles: list[Candle]) -> None:
        data = [candle_smarttrade_ms(c) for c in candles]
        session.send(dumps({"type": "historical", "symbol": topic.symbol, "data": data}))

    await attach(
        session,
        state.hub,
        topic,
        encoder=encode_smarttrade_live,
        snapshot=read_then_send(historical, send_historical),
    )
    await session.serve(state.sockets.reader(session, _ignore))
