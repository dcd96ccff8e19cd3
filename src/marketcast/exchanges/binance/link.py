"""One WebSocket connection to Binance's combined-stream endpoint.

A :class:`Link` reads frames until the connection ends or goes quiet (the data
watchdog), sends paced SUBSCRIBE/UNSUBSCRIBE requests and remembers what the stream
supervisor needs to decide on replacements: whether a ``serverShutdown`` arrived, when
its first data came, whether it has caught up with another connection.

Data (kline updates, depth and trade events) is *held* until :meth:`Link.go_live`, so
that ``Reconnected``/``StreamsReconnected`` can be put in front of the first update the
new connection delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import orjson
from prometheus_client import Counter
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.limits import MessagePacer
from marketcast.exchanges.binance.messages import (
    ControlReply,
    KlineUpdate,
    LiquidationEvent,
    MarketData,
    ServerShutdown,
    StreamEvent,
)
from marketcast.exchanges.binance.parse import parse_ws_message
from marketcast.exchanges.binance.partition import request_batches
from marketcast.exchanges.binance.trades import TradeEvent
from marketcast.metrics import UPSTREAM_CONNECTIONS, UPSTREAM_CONNECTS, UPSTREAM_MESSAGES

log = logging.getLogger(__name__)

_KINDS: Final[dict[type, str]] = {
    KlineUpdate: "kline",
    DepthEvent: "depth",
    TradeEvent: "trade",
    LiquidationEvent: "liquidation",
}

Emit = Callable[[StreamEvent], Awaitable[None]]


@dataclass
class LinkCounters:
    """Counters shared by every link of one stream client; ``market`` labels its metrics."""

    market: str = "spot"
    messages: int = 0
    malformed_frames: int = 0
    control_errors: int = 0
    _by_kind: dict[type, Counter] = field(default_factory=dict, repr=False)

    def count_data(self, update: MarketData) -> None:
        """Count one market-data message by its stream kind (for ``/metrics``)."""
        kind = type(update)
        child = self._by_kind.get(kind)
        if child is None:
            child = self._by_kind[kind] = UPSTREAM_MESSAGES.labels(self.market, _KINDS[kind])
        child.inc()


class Link:
    """A connected WebSocket plus the bookkeeping around it. Call :meth:`start` once."""

    def __init__(
        self,
        ws: ClientConnection,
        streams: Iterable[str],
        *,
        emit: Emit,
        counters: LinkCounters,
        data_timeout: float,
        ack_timeout: float,
    ) -> None:
        self.streams: set[str] = set(streams)
        self.opened_at = asyncio.get_running_loop().time()
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.trouble = asyncio.Event()  # set on a serverShutdown notice or when ended
        self.first_kline = asyncio.Event()  # set by the first data of any kind
        self.first_event_time: int | None = None
        self.last_event_time: int | None = None
        self.caught_up = asyncio.Event()  # also set when the link ends: nothing more to wait for
        self._watch_from: int | None = None
        self._ws = ws
        self._emit = emit
        self._counters = counters
        self._data_timeout = data_timeout
        self._ack_timeout = ack_timeout
        self._live = False
        self._market_muted = False
        self._held: deque[MarketData] = deque()
        self._pacer = MessagePacer()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ControlReply]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        UPSTREAM_CONNECTS.labels(self._counters.market).inc()
        UPSTREAM_CONNECTIONS.labels(self._counters.market).inc()
        self._tasks.append(asyncio.create_task(self._read(), name="binance-link-reader"))

    def follow(self, changed: asyncio.Event, wanted: Callable[[], Iterable[str]]) -> None:
        """Keep the subscriptions equal to ``wanted()`` whenever ``changed`` is set."""
        self._tasks.append(asyncio.create_task(self._follow(changed, wanted)))

    async def go_live(self, announce: Iterable[StreamEvent] = ()) -> None:
        """Emit ``announce``, then the held updates, then pass updates straight through."""
        for event in announce:
            await self._emit(event)
        while self._held:
            await self._emit(self._held.popleft())
        # No await between the emptiness check above and this line: nothing slips past.
        self._live = True

    def mute_market_streams(self) -> None:
        """Stop emitting depth and trade events; klines keep flowing.

        Called on a connection being replaced once its successor is live: the raw-stream
        consumers resync on ``StreamsReconnected``, and stale events from the old
        connection arriving after it would only interleave with the new ones.
        """
        self._market_muted = True

    def watch_catch_up(self, event_time: int) -> None:
        """Set :attr:`caught_up` once this link delivers an update at or after ``event_time``."""
        self._watch_from = event_time
        if self.last_event_time is not None and self.last_event_time >= event_time:
            self.caught_up.set()

    async def sync(self, wanted: Iterable[str]) -> None:
        """SUBSCRIBE what is missing and UNSUBSCRIBE what is no longer wanted."""
        target = set(wanted)
        for batch in request_batches(target - self.streams):
            self.streams.update(batch)
            await self._request("SUBSCRIBE", batch)
        for batch in request_batches(self.streams - target):
            self.streams.difference_update(batch)
            await self._request("UNSUBSCRIBE", batch)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # With the reader gone, websockets stops reading the socket once its receive
        # queue is full, so the peer's close frame would wait behind unread market data
        # until the close timeout (2 s per connection at every shutdown). Discard what
        # still arrives while the handshake runs.
        discard = asyncio.create_task(self._discard_until_closed(), name="binance-link-drain")
        try:
            await self._ws.close()
        finally:
            discard.cancel()
            await asyncio.gather(discard, return_exceptions=True)
        self._finish("closed by client")

    async def _discard_until_closed(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._ws.recv()

    async def _read(self) -> None:
        reason = "connection closed"
        try:
            while True:
                frame = await self._recv()
                self._counters.messages += 1
                await self._handle(frame)
        except TimeoutError:
            reason = f"stalled: no data for {self._data_timeout:g}s"
            await self._ws.close(reason="stalled")
        except ConnectionClosed as exc:
            reason = f"connection closed: {exc}"
        finally:
            self._finish(reason)

    async def _recv(self) -> str | bytes:
        # The watchdog only runs while streams are subscribed: an idle connection is quiet.
        timeout = self._data_timeout if self.streams else None
        async with asyncio.timeout(timeout):
            return await self._ws.recv()

    async def _handle(self, frame: str | bytes) -> None:
        try:
            message = parse_ws_message(frame)
        except ExchangeProtocolError as exc:
            self._counters.malformed_frames += 1
            log.warning("skipping malformed frame: %s", exc)
            return
        if isinstance(message, ServerShutdown):
            log.info("exchange announced a server shutdown at %s", message.event_time)
            self.trouble.set()
        elif isinstance(message, ControlReply):
            self._on_reply(message)
        else:
            await self._on_data(message)

    async def _on_data(self, update: MarketData) -> None:
        self._counters.count_data(update)
        event_time = update.diff.event_time if isinstance(update, DepthEvent) else update.event_time
        if self.first_event_time is None:
            self.first_event_time = event_time
            self.first_kline.set()
        self.last_event_time = max(self.last_event_time or 0, event_time)
        if self._watch_from is not None and event_time >= self._watch_from:
            self.caught_up.set()
        if self._market_muted and not isinstance(update, KlineUpdate):
            return
        if self._live:
            await self._emit(update)
        else:
            self._held.append(update)

    def _on_reply(self, reply: ControlReply) -> None:
        if not reply.ok:
            self._counters.control_errors += 1
            log.warning("control request %s failed: %s", reply.request_id, reply.error_message)
        waiter = self._pending.get(reply.request_id) if isinstance(reply.request_id, int) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    async def _request(self, method: str, params: list[str]) -> ControlReply:
        loop = asyncio.get_running_loop()
        while True:
            delay = self._pacer.delay_for(loop.time())
            if delay <= 0:
                self._pacer.record(loop.time())
                break
            await asyncio.sleep(delay)
        request_id = next(self._ids)
        waiter: asyncio.Future[ControlReply] = loop.create_future()
        self._pending[request_id] = waiter
        try:
            payload = {"method": method, "params": params, "id": request_id}
            await self._ws.send(orjson.dumps(payload).decode())
            async with asyncio.timeout(self._ack_timeout):
                return await waiter
        finally:
            del self._pending[request_id]

    async def _follow(self, changed: asyncio.Event, wanted: Callable[[], Iterable[str]]) -> None:
        try:
            while True:
                # Sync first: a change made while this link was opening is already
                # consumed from ``changed`` by the link it replaces.
                await self.sync(wanted())
                await changed.wait()
                changed.clear()
        except (ConnectionClosed, ConnectionError, TimeoutError) as exc:
            # The supervisor reconnects with the full subscription; force that now.
            log.warning("subscription update failed, dropping the connection: %r", exc)
            await self._ws.close(reason="subscription update failed")

    def _finish(self, reason: str) -> None:
        if not self.ended.done():
            self.ended.set_result(reason)
            UPSTREAM_CONNECTIONS.labels(self._counters.market).dec()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(reason))
        self.trouble.set()
        self.caught_up.set()
