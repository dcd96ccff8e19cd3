"""In-process publish/subscribe of stored candle changes, with encode-once payloads.

Each change is published once as a :class:`Published` event. Every wire format a client
can ask for is encoded at most once per event, by the first subscriber that needs it, and
the resulting text is shared by all connections using that format.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.metrics import ExchangeLag

log = logging.getLogger(__name__)

Encoder = Callable[["Published"], str]


@dataclass(slots=True, eq=False)
class Published:
    """One stored change. ``event_ms`` is the exchange's push time of the update that
    caused it (Binance ``E``), ``None`` when it came from REST (a gap fill, a resync)."""

    topic: Topic
    candle: Candle
    seq: int
    event_ms: int | None = None
    _encoded: dict[Encoder, str] = field(default_factory=dict)

    def encoded(self, encoder: Encoder) -> str:
        text = self._encoded.get(encoder)
        if text is None:
            text = self._encoded[encoder] = encoder(self)
        return text


Subscriber = Callable[[Published], None]


class Bus:
    """Delivers each published change synchronously to that topic's subscribers.

    Subscribers must not block: they hand the event to a bounded per-client buffer.
    """

    def __init__(self, *, market: str = "spot") -> None:
        self._subscribers: dict[Topic, list[Subscriber]] = {}
        self._seq = 0
        self._lag = ExchangeLag(market, "candles")

    def subscribe(self, topic: Topic, subscriber: Subscriber) -> None:
        """Register ``subscriber`` until :meth:`unsubscribe`."""
        self._subscribers.setdefault(topic, []).append(subscriber)

    def unsubscribe(self, topic: Topic, subscriber: Subscriber) -> None:
        """Unregister ``subscriber`` (a subscriber not registered is ignored)."""
        listeners = self._subscribers.get(topic, [])
        if subscriber in listeners:
            listeners.remove(subscriber)
        if not listeners:
            self._subscribers.pop(topic, None)

    def subscriber_count(self, topic: Topic) -> int:
        return len(self._subscribers.get(topic, ()))

    def publish(self, topic: Topic, candle: Candle, event_ms: int | None = None) -> Published:
        self._seq += 1
        event = Published(topic, candle, self._seq, event_ms)
        subscribers = tuple(self._subscribers.get(topic, ()))
        if subscribers:
            # Clients' writes run in place below (queued only for a lagging client).
            self._lag.observe(event_ms)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                # A broken subscriber is a bug in one connection's code path; it must not
                # starve the other subscribers of this candle.
                log.exception("subscriber failed", extra={"topic": str(topic)})
        return event
