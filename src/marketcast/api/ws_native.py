"""``WS /ws``: the native multiplexed protocol (see :mod:`marketcast.api.protocol`)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, WebSocket

from marketcast.api.feeds import attach
from marketcast.api.formats import candle_native, dumps, encode_native
from marketcast.api.indicators import subscribe_indicators
from marketcast.api.protocol import Ping, Subscribe, Unsubscribe, parse_client_message
from marketcast.api.session import ClientSession
from marketcast.api.state import AppState
from marketcast.api.ws_common import open_session, reader
from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded, InvalidLimit

router = APIRouter()


@router.websocket("/ws")
async def native_ws(websocket: WebSocket) -> None:
    opened = await open_session(websocket)
    if opened is None:
        return
    state, session = opened
    subscriptions: dict[Topic, Callable[[], None]] = {}
    watching: dict[Topic, Callable[[], None]] = {}

    async def handle(session: ClientSession, raw: str) -> None:
        message = parse_client_message(raw)
        if isinstance(message, Ping):
            session.send('{"type":"pong"}')
        elif isinstance(message, Subscribe) and message.channel == "indicators":
            topic = Topic(state.hub.resolve_symbol(message.symbol), message.interval)
            if (previous := watching.pop(topic, None)) is not None:
                previous()
            watching[topic] = await subscribe_indicators(state, session, message)
        elif isinstance(message, Subscribe):
            await _subscribe(state, session, subscriptions, message, others=len(watching))
        elif isinstance(message, Unsubscribe):
            topic = Topic(state.hub.resolve_symbol(message.symbol), message.interval)
            held = watching if message.channel == "indicators" else subscriptions
            detach = held.pop(topic, None)
            if detach is not None:
                detach()
            names = _names(topic) | {"channel": message.channel}
            session.send(dumps({"type": "unsubscribed", **names}))

    await session.serve(reader(session, state, handle))


def _names(topic: Topic) -> dict[str, str]:
    return {"channel": "candles", "symbol": topic.symbol, "interval": topic.interval.code}


async def _subscribe(
    state: AppState,
    session: ClientSession,
    subscriptions: dict[Topic, Callable[[], None]],
    message: Subscribe,
    *,
    others: int = 0,
) -> None:
    hub = state.hub
    capacity = hub.store.capacity
    if message.limit is not None and not 1 <= message.limit <= capacity:
        raise InvalidLimit(message.limit, capacity)
    topic = Topic(hub.resolve_symbol(message.symbol), message.interval)
    if topic not in subscriptions and len(subscriptions) + others >= (
        state.settings.max_subscriptions_per_connection
    ):
        raise CapacityExceeded(
            f"at most {state.settings.max_subscriptions_per_connection} subscriptions "
            "per connection"
        )
    await hub.topic_ready(topic)
    previous = subscriptions.pop(topic, None)
    if previous is not None:
        previous()  # a repeated subscribe is a resume: replace, don't double-deliver
    reset = False

    async def read_snapshot() -> list[Candle]:
        nonlocal reset
        limit = message.limit or capacity
        since = message.since_ms
        if since is not None:
            first = (await hub.store.info(topic)).first
            reset = first is None or since < first.open_time
            if not reset:
                return await hub.store.read(topic, limit=capacity, since=since)
        return await hub.store.read(topic, limit=limit)

    def send_snapshot(candles: list[Candle]) -> None:
        body = {
            "type": "snapshot",
            **_names(topic),
            "reset": reset,
            "candles": [candle_native(c) for c in candles],
        }
        session.send(dumps(body))

    subscriptions[topic] = await attach(
        session,
        hub,
        topic,
        encoder=encode_native,
        read_snapshot=read_snapshot,
        send_snapshot=send_snapshot,
    )
