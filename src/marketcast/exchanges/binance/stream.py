"""The kline stream client: every topic on some combined-stream connection, always.

Raw market streams (``btcusdt@depth``, ``btcusdt@depth@100ms``, ``btcusdt@trade``,
``btcusdt@aggTrade``, futures ``btcusdt@forceOrder``...) ride on the same connections,
with the same rules; their events come out of the same :meth:`KlineStream.events`
iterator.

USD-M futures route their streams (``/market``, ``/public``): one client per route, each
opened on :func:`~marketcast.exchanges.binance.routing.stream_base`.

Topics are spread over *slots* of at most 1024 streams (new topics fill slots with room
first, by SUBSCRIBE on the live connection); each slot is kept connected by a
:class:`~marketcast.exchanges.binance.supervisor.SlotSupervisor`, which explains the
reconnect, replacement and ``Reconnected`` rules.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.markets import MarketSpec
from marketcast.exchanges.binance.messages import StreamEvent
from marketcast.exchanges.binance.parse import check_market_stream, stream_name
from marketcast.exchanges.binance.partition import MAX_STREAMS_PER_CONNECTION, assign
from marketcast.exchanges.binance.routing import check_kline_interval, check_stream_for_market
from marketcast.exchanges.binance.supervisor import (
    ConnectionState,
    LinkSettings,
    SlotSupervisor,
    StreamCounters,
)
from marketcast.resources import AsyncResource


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Counters for ``/health`` and metrics. ``connections`` counts open sockets now."""

    connections: int
    reconnects: int
    malformed_frames: int
    messages: int
    control_errors: int


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """One logical connection for ``/health``: ``connecting`` only before its first connect."""

    slot: int
    state: ConnectionState
    streams: int


class KlineStream(AsyncResource):
    """Kline updates for a changing set of topics from ``{ws_base}/stream``.

    ``ws_base`` may carry a path (a futures route such as
    ``wss://fstream.binance.com/market``); it is kept in front of ``/stream``. With
    ``market`` given, topics and streams that market does not have (``1s`` klines and
    ``@trade`` on USD-M, ``@forceOrder`` on spot) are refused; without it only the stream
    names' form is checked.

    Example::

        async with KlineStream("wss://stream.binance.com:9443") as stream:
            await stream.set_topics([Topic.of("BTCUSDT", "1m")])
            async for event in stream.events():
                ...
    """

    def __init__(
        self,
        ws_base: str,
        *,
        max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION,
        ping_interval: float = 20.0,
        ping_timeout: float = 20.0,
        data_timeout: float = 15.0,
        max_connection_age: float = 23.5 * 3600,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        ack_timeout: float = 10.0,
        queue_size: int = 10_000,
        market: MarketSpec | None = None,
    ) -> None:
        self._market = market
        self._settings = LinkSettings(
            ws_base=ws_base,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            data_timeout=data_timeout,
            ack_timeout=ack_timeout,
            max_age=max_connection_age,
        )
        self._max_streams = max_streams_per_connection
        self._backoff = backoff or Backoff(rng=rng or random.Random())
        # ``None`` marks the end of the stream for the consumer.
        self._queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue(queue_size)
        self._slots: list[SlotSupervisor] = []
        self._next_index = 0
        self._counters = StreamCounters(market=market.name if market else "spot")
        self._closed = False

    @property
    def stats(self) -> StreamStats:
        c = self._counters
        open_links = sum(len(slot.links) for slot in self._slots)
        return StreamStats(
            open_links, c.reconnects, c.malformed_frames, c.messages, c.control_errors
        )

    def connections(self) -> list[ConnectionStatus]:
        return [ConnectionStatus(s.index, s.state, s.load) for s in self._slots]

    def topics(self) -> frozenset[Topic]:
        return frozenset(t for slot in self._slots for t in slot.topics.values())

    def market_streams(self) -> frozenset[str]:
        """The raw market streams subscribed now, by their Binance names."""
        return frozenset(name for slot in self._slots for name in slot.market_streams)

    async def set_topics(self, topics: Iterable[Topic]) -> None:
        """Make the subscribed set exactly ``topics``."""
        wanted = set(topics)
        await self.remove_topics(self.topics() - wanted)
        await self.add_topics(wanted)

    async def add_topics(self, topics: Iterable[Topic]) -> None:
        """Subscribe ``topics``: SUBSCRIBE on connections with room, new connections beyond.

        Raises:
            InvalidInterval: with a ``market`` that lacks a topic's interval (``1s`` on
                USD-M); nothing is subscribed then.
        """
        topics = list(topics)
        if not topics:
            return  # set_topics(()) while shutting down, after the stream was closed
        self._check_open()
        if self._market is not None:
            for topic in topics:
                check_kline_interval(self._market, topic.interval)
        known = {name for slot in self._slots for name in slot.topics}
        fresh = {stream_name(t): t for t in topics if stream_name(t) not in known}
        loads = [slot.load for slot in self._slots]
        additions, groups = assign(fresh, loads, self._max_streams)
        for slot, names in zip(self._slots, additions, strict=True):
            if names:
                slot.topics.update((name, fresh[name]) for name in names)
                slot.topics_changed()
        for group in groups:
            self._start_slot({name: fresh[name] for name in group})

    async def remove_topics(self, topics: Iterable[Topic]) -> None:
        """UNSUBSCRIBE ``topics``; a connection left with none is closed."""
        names = {stream_name(t) for t in topics}
        for slot in list(self._slots):
            if names & slot.topics.keys():
                for name in names:
                    slot.topics.pop(name, None)
                slot.topics_changed()
                if not slot.load:
                    await self._stop_slot(slot)

    async def add_streams(self, names: Iterable[str]) -> None:
        """Subscribe raw market streams (``btcusdt@depth@100ms``...), placed like topics.

        Raises:
            InvalidRequest: a name is not a lower-case symbol with ``@depth``,
                ``@depth@100ms``, ``@depth@250ms``, ``@depth@500ms``, ``@trade``,
                ``@aggTrade`` or ``@forceOrder``, or (with a ``market``) that market has
                no such stream; nothing is subscribed then.
        """
        self._check_open()
        wanted = {self._check_stream(name) for name in names}
        fresh = wanted - self.market_streams()
        loads = [slot.load for slot in self._slots]
        additions, groups = assign(fresh, loads, self._max_streams)
        for slot, added in zip(self._slots, additions, strict=True):
            if added:
                slot.market_streams.update(added)
                slot.topics_changed()
        for group in groups:
            self._start_slot({}, group)

    async def remove_streams(self, names: Iterable[str]) -> None:
        """UNSUBSCRIBE raw market streams; a connection left with nothing is closed."""
        unwanted = set(names)
        for slot in list(self._slots):
            if unwanted & slot.market_streams:
                slot.market_streams -= unwanted
                slot.topics_changed()
                if not slot.load:
                    await self._stop_slot(slot)

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Updates and connection events, in order, for a single consumer."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for slot in list(self._slots):
            await self._stop_slot(slot)
        if self._queue.full():
            self._queue.get_nowait()  # closing: the consumer must see the end marker
        self._queue.put_nowait(None)

    def _check_stream(self, name: str) -> str:
        if self._market is None:
            return check_market_stream(name)
        return check_stream_for_market(name, self._market)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("KlineStream is closed")

    def _start_slot(self, topics: dict[str, Topic], market_streams: Iterable[str] = ()) -> None:
        slot = SlotSupervisor(
            self._next_index,
            topics,
            market_streams=market_streams,
            settings=self._settings,
            backoff=self._backoff.fresh(),
            emit=self._emit,
            counters=self._counters,
        )
        self._next_index += 1
        self._slots.append(slot)
        slot.start()

    async def _stop_slot(self, slot: SlotSupervisor) -> None:
        self._slots.remove(slot)
        await slot.stop()

    async def _emit(self, event: StreamEvent) -> None:
        await self._queue.put(event)
