"""Attaching a client session to a candle topic without a gap or a duplicate.

Order matters (the client sync rules of ``docs/native.md``): subscribe on the bus first,
then read the snapshot, then send the snapshot followed by held updates at or after its
last candle. Before that, every candle route waits in :func:`candle_topic_ready`, which
refuses what the node's market cannot serve.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Final

from marketcast.api.state import AppState
from marketcast.api.transport.session import ClientSession
from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.markets import MARKETS
from marketcast.exchanges.binance.routing import check_kline_interval
from marketcast.hub.candles.bus import Bus, Encoder, Published
from marketcast.hub.candles.gate import released
from marketcast.hub.candles.hub import Hub
from marketcast.metrics import SUBSCRIPTIONS


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


class _CandleFeed:
    """One session's subscription to one topic, and the bus subscriber itself.

    Fan-out calls it once per subscriber per update, and a node holds one per
    subscription: one slotted object, rather than a gate, closures for forwarding,
    unsubscribing and counting, and their cells, keeps both the calls and the memory per
    subscription small. It holds updates until the snapshot is out
    (:mod:`marketcast.hub.candles.gate`), then hands each to the session.
    """

    __slots__ = ("_bus", "_encoder", "_held", "_key", "_session", "_topic")

    def __init__(self, session: ClientSession, encoder: Encoder, bus: Bus, topic: Topic) -> None:
        self._session = session
        self._encoder = encoder
        self._bus: Bus | None = bus
        self._topic = topic
        self._held: list[Published] | None = []
        # The queue key of this subscription's forming candle: its serial (a new
        # subscription gets a new one) and the candle's open time.
        self._key = (next(_serials), -1)
        bus.subscribe(topic, self)
        _SUBSCRIBED.inc()
        session.on_close(self.end)

    def __call__(self, event: Published) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        # A forming candle may be superseded while queued; a closed one never is. The key
        # names this subscription, so an update after a re-subscribe cannot overwrite a
        # message queued before the new snapshot. It is made once per forming candle, not
        # per update: a tuple per delivered frame was what fan-out gave the garbage
        # collector to count.
        candle = event.candle
        if candle.closed:
            key = None
        elif (key := self._key)[1] != candle.open_time:
            key = self._key = (key[0], candle.open_time)
        self._session.send(event.encoded(self._encoder), key)

    def open(self, snapshot_last_open: int | None) -> None:
        """The snapshot is queued: send what was held after it, then pass updates through."""
        held, self._held = self._held or [], None
        for event in released(held, snapshot_last_open, _open_time):
            self(event)

    def end(self) -> None:
        """Stop the subscription (once; the session's end calls this too)."""
        if self._bus is not None:
            self._bus.unsubscribe(self._topic, self)
            self._bus = None
            _SUBSCRIBED.dec()

    def detach(self) -> None:
        """End the subscription before the session ends."""
        self._session.cancel_on_close(self.end)
        self.end()


_SUBSCRIBED: Final = SUBSCRIPTIONS.labels("candles")
_serials = itertools.count()


def _open_time(event: Published) -> int:
    return event.candle.open_time


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
    feed = _CandleFeed(session, encoder, hub.bus, topic)
    try:
        last_open = await snapshot()
    except BaseException:
        # A feed that never opens would hold every push and pin the topic for good.
        feed.detach()
        raise
    feed.open(last_open)
    return feed.detach


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
