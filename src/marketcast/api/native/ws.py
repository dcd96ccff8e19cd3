"""``WS /ws``: the native multiplexed protocol (see :mod:`marketcast.api.native.protocol`).

One connection holds any mix of subscriptions, at most
``max_subscriptions_per_connection`` in all: candles and indicators per (symbol,
interval), order books (rounded views, or the exact book: :mod:`marketcast.api.native.depth`),
trades and liquidations per symbol (:mod:`marketcast.api.native.channels`). Subscribing
again to what is already held replaces it: a resume for candles, new parameters for an
order book, with no reconnect.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, WebSocket

from marketcast.api.feeds.candles import attach, candle_topic_ready
from marketcast.api.feeds.lookup import LIQUIDATIONS_MARKET, liquidations_market
from marketcast.api.feeds.shapes import candle_native
from marketcast.api.native.channels import (
    subscribe_book,
    subscribe_liquidations,
    subscribe_trades,
)
from marketcast.api.native.depth import subscribe_depth
from marketcast.api.native.formats import native_encoder
from marketcast.api.native.indicators import subscribe_indicators
from marketcast.api.native.protocol import (
    BookSubscribe,
    DepthSubscribe,
    FeedSubscribe,
    FeedUnsubscribe,
    LiquidationSubscribe,
    Ping,
    Subscribe,
    TradeSubscribe,
    Unsubscribe,
    parse_client_message,
)
from marketcast.api.state import AppState, app_state, market_state
from marketcast.api.transport.messages import dumps
from marketcast.api.transport.session import ClientSession
from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded, InvalidLimit

router = APIRouter()


@router.websocket("/ws")
async def native_ws(websocket: WebSocket) -> None:
    state = app_state(websocket)
    session = await state.sockets.open(websocket, batching=True)
    if session is None:
        return
    # Keyed by market too: one socket may follow BTCUSDT on spot and on USD-M.
    subscriptions: dict[tuple[str, Topic], Callable[[], None]] = {}
    watching: dict[tuple[str, Topic], Callable[[], None]] = {}
    feeds: dict[tuple[str, str, str], Callable[[], None]] = {}

    async def handle(session: ClientSession, raw: str) -> None:
        message = parse_client_message(raw)
        if isinstance(message, Ping):
            session.send('{"type":"pong"}')
            return
        on, symbol = _market_of(state, message)
        if isinstance(message, FeedUnsubscribe):
            key = _feed_key(on, message.channel, symbol)
            if (detach := feeds.pop(key, None)) is not None:
                detach()
            names = {"channel": key[0], "market": key[1], "symbol": key[2]}
            session.send(dumps({"type": "unsubscribed"} | names))
        elif isinstance(
            message, BookSubscribe | DepthSubscribe | TradeSubscribe | LiquidationSubscribe
        ):
            others = len(subscriptions) + len(watching)
            await _subscribe_feed(on, session, feeds, message, symbol, others=others)
        elif isinstance(message, Subscribe) and message.channel == "indicators":
            held = (on.market, Topic(on.hub.resolve_symbol(symbol), message.interval))
            if (previous := watching.pop(held, None)) is not None:
                previous()
            _check_cap(state, len(subscriptions) + len(watching) + len(feeds))
            watching[held] = await subscribe_indicators(on, session, message, symbol)
        elif isinstance(message, Subscribe):
            others = len(watching) + len(feeds)
            await _subscribe(on, session, subscriptions, message, symbol, others=others)
        elif isinstance(message, Unsubscribe):
            held = (on.market, Topic(on.hub.resolve_symbol(symbol), message.interval))
            holder = watching if message.channel == "indicators" else subscriptions
            detach = holder.pop(held, None)
            if detach is not None:
                detach()
            names = _names(on.market, held[1]) | {"channel": message.channel}
            session.send(dumps({"type": "unsubscribed", **names}))

    await session.serve(state.sockets.reader(session, handle))


def _market_of(
    state: AppState, message: Subscribe | Unsubscribe | FeedSubscribe | FeedUnsubscribe
) -> tuple[AppState, str]:
    """The state of the market ``message`` names, and its symbol without the market."""
    if message.channel == "liquidations":
        return liquidations_market(state, message.symbol, message.market)
    return market_state(state, message.symbol, message.market)


def _feed_key(state: AppState, channel: str, symbol: str) -> tuple[str, str, str]:
    """What identifies a feed subscription: channel, market, exchange id. Liquidations
    are USD-M's however they were asked for, so that is the market they are held under."""
    market = LIQUIDATIONS_MARKET if channel == "liquidations" else state.market
    return (channel, market, state.hub.resolve_symbol(symbol))


def _names(market: str, topic: Topic) -> dict[str, str]:
    return {
        "channel": "candles",
        "market": market,
        "symbol": topic.symbol,
        "interval": topic.interval.code,
    }


async def _subscribe(
    state: AppState,
    session: ClientSession,
    subscriptions: dict[tuple[str, Topic], Callable[[], None]],
    message: Subscribe,
    symbol: str,
    *,
    others: int = 0,
) -> None:
    hub = state.hub
    capacity = hub.store.capacity
    if message.limit is not None and not 1 <= message.limit <= capacity:
        raise InvalidLimit(message.limit, capacity)
    topic = Topic(hub.resolve_symbol(symbol), message.interval)
    held = (state.market, topic)
    if held not in subscriptions:
        _check_cap(state, len(subscriptions) + others)
    await candle_topic_ready(state, topic)

    def encoded(candles: list[Candle], reset: bool) -> tuple[str, int | None]:
        body = {
            "type": "snapshot",
            **_names(state.market, topic),
            "reset": reset,
            "candles": [candle_native(c) for c in candles],
        }
        return dumps(body), candles[-1].open_time if candles else None

    async def snapshot() -> int | None:
        store = hub.store
        since = message.since_ms
        reset = False
        if since is not None:
            first = (await store.info(topic)).first
            reset = first is None or since < first.open_time
            if not reset:
                held = await store.read(topic, limit=capacity, since=since)
                text, last_open = encoded(held, reset)
                session.send(text)
                return last_open
        # The newest `limit` candles: the same text for every client subscribing while the
        # topic holds still (a reconnect storm subscribes thousands at once), encoded once.
        shape = (message.limit or capacity, reset)
        revision = store.revision(topic)
        found = None if revision is None else state.snapshot_texts.get(topic, revision, shape)
        if found is None:
            found = encoded(await store.read(topic, limit=shape[0]), reset)
            if revision is not None:
                state.snapshot_texts.put(topic, revision, shape, found)
        session.send(found[0])
        return found[1]

    detach = await attach(
        session, hub, topic, encoder=native_encoder(state.market), snapshot=snapshot
    )
    # A repeated subscribe is a resume: the old subscription stops only now that the new
    # snapshot is queued, so a refused or failed resume leaves the client what it held.
    if (previous := subscriptions.pop(held, None)) is not None:
        previous()
    subscriptions[held] = detach


def _check_cap(state: AppState, held: int) -> None:
    """Refuse one more subscription when ``held`` already reach the per-connection cap."""
    cap = state.settings.max_subscriptions_per_connection
    if held >= cap:
        raise CapacityExceeded(f"at most {cap} subscriptions per connection")


async def _subscribe_feed(
    state: AppState,
    session: ClientSession,
    feeds: dict[tuple[str, str, str], Callable[[], None]],
    message: FeedSubscribe,
    symbol: str,
    *,
    others: int,
) -> None:
    key = _feed_key(state, message.channel, symbol)
    if key not in feeds:
        _check_cap(state, len(feeds) + others)
    symbol = key[2]
    if isinstance(message, BookSubscribe):
        detach = await subscribe_book(state, session, symbol, message)
    elif isinstance(message, DepthSubscribe):
        detach = await subscribe_depth(state, session, symbol, message)
    elif isinstance(message, TradeSubscribe):
        detach = await subscribe_trades(state, session, symbol, message)
    else:
        detach = await subscribe_liquidations(state, session, symbol, message)
    # The new subscription's snapshot is queued; the old one stops before anything else
    # runs, so the client never sees the old parameters after the new snapshot. A refused
    # re-subscribe (bad rounding, say) raised above and left the old one running.
    if (previous := feeds.pop(key, None)) is not None:
        previous()
    feeds[key] = detach
