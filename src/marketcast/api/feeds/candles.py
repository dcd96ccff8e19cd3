"""Attaching a client session to a candle topic without a gap or a duplicate.

Order matters (the client sync rules of ``docs/native.md``): subscribe on the bus first,
then read the snapshot, then send the snapshot followed by held updates at or after its
last candle. Before that, every candle route waits in :func:`candle_topic_ready`, which
refuses what the node's market cannot serve.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from marketcast.api.state import AppState
from marketcast.api.transport.session import ClientSession
from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.markets import MARKETS
from marketcast.exchanges.binance.routing import check_kline_interval
from marketcast.hub.candles.bus import Encoder, Published
from marketcast.hub.candles.gate import SnapshotGate
from marketcast.hub.candles.hub import Hub
from marketcast.metrics import counted_subscription


async def candle_topic_ready(state: AppState, topic: Topic) -> None:
    """Return once ``topic`` can be served, as :meth:`Hub.topic_ready` does.

    Every candle route waits here: an interval the node's market has no klines of
    (``1s`` on USD-M) is refused with :class:`~marketcast.errors.InvalidInterval` before
    the hub could start a topic that would never become ready.
    """
    check_kline_interval(MARKETS[state.market], topic.interval)
    await state.hub.topic_ready(topic)


async def ready_topic(state: AppState, symbol: str, interval: str) -> Topic:
    """The topic a request names, once it can be served.

    Raises :class:`~marketcast.errors.UnknownSymbol` (with suggestions) or
    :class:`~marketcast.errors.InvalidInterval` (listing the valid ones) for bad names.
    """
    topic = Topic(state.hub.resolve_symbol(symbol), Interval.parse(interval))
    await candle_topic_ready(state, topic)
    return topic


async def attach(
    session: ClientSession,
    hub: Hub,
    topic: Topic,
    *,
    encoder: Encoder,
    snapshot: Snapshot,
) -> Callable[[], None]:
    """Subscribe ``session`` to ``topic``; return the function that detaches it.

    ``snapshot`` reads the candles to send first and queues them in the contract's shape
    (it may send nothing); it returns the open time of the last one (``None``: none). If it
    fails (the store is down, the client left), the bus subscription is undone before the
    error propagates: nobody else holds its detach function.
    """

    def forward(event: Published) -> None:
        # A forming candle may be superseded while queued; a closed one never is. The key
        # names this subscription (the gate), so an update after a re-subscribe cannot
        # overwrite a message queued before the new snapshot.
        candle = event.candle
        key = None if candle.closed else (gate, candle.open_time)
        session.send(event.encoded(encoder), key)

    gate: SnapshotGate[Published] = SnapshotGate(forward, lambda e: e.candle.open_time)
    detach = session.on_close(counted_subscription("candles", hub.bus.subscribe(topic, gate.offer)))
    try:
        last_open = await snapshot()
    except BaseException:
        # A gate that never opens would hold every push and pin the topic for good.
        detach()
        raise
    gate.open(last_open)
    return detach


Snapshot = Callable[[], Awaitable[int | None]]
"""Reads and queues a subscription's snapshot; returns its last candle's open time."""


def read_then_send(
    read: Callable[[], Awaitable[list[Candle]]], send: Callable[[list[Candle]], None]
) -> Snapshot:
    """The snapshot of a contract that encodes what it reads every time."""

    async def snapshot() -> int | None:
        candles = await read()
        send(candles)
        return candles[-1].open_time if candles else None

    return snapshot
