"""Binance stream sockets: spot ``/ws``, ``/ws/<streams>``, ``/stream?streams=``, and the
same three under USD-M futures' routes ``/market`` and ``/public``.

One :class:`SimConnection` per socket runs three tasks it owns: a reader (control
requests, rate limit), a pusher (every tick it asks :func:`.cadence.plan_push` which
klines are due and reads them from the ground truth, and its :class:`.pushes.MarketFeed`
which trades and depth diffs are) and a writer (the only sender, so faults such as
delay and stall act on one queue). Ping frames are uvicorn's (``ws_ping_interval``),
and client pings are answered by it; incoming pings do not count toward the message rate
because the ASGI app never sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from marketcast.exchanges.sim.faults.connection import ConnectionFaults, garbage_frames
from marketcast.exchanges.sim.rest.spot import JsonResponse
from marketcast.exchanges.sim.runtime import CloseRequest, SimRuntime, Venue
from marketcast.exchanges.sim.truth.ground_truth import GroundTruth
from marketcast.exchanges.sim.wire.spot import Json
from marketcast.exchanges.sim.wire.streams import (
    KlineStream,
    Market,
    SessionState,
    Stream,
    StreamRequestError,
    handle_control,
    parse_stream,
    route_of,
)
from marketcast.exchanges.sim.ws.cadence import (
    Cursor,
    PushPlan,
    cadence_for,
    plan_push,
    start_cursor,
    stream_phase,
)
from marketcast.exchanges.sim.ws.pushes import MarketFeed

log = logging.getLogger(__name__)

TICK_S: Final = 0.05
OUTBOX_LIMIT: Final = 10_000


class SimConnection:
    """One accepted stream socket of ``venue`` on ``route`` and the tasks that serve it.

    Streams whose route is not ``route`` are accepted and listed but never delivered,
    as on Binance's routed futures endpoints.
    """

    def __init__(
        self,
        runtime: SimRuntime,
        websocket: WebSocket,
        state: SessionState,
        place: tuple[Venue, str],
    ) -> None:
        self.faults = ConnectionFaults()
        self._venue, self._route = place
        self.market = self._venue.market
        self._runtime = runtime
        self._ws = websocket
        self._state = SessionState()
        self._cursors: dict[KlineStream, Cursor] = {}
        liquidations = (runtime.liquidations, runtime.futures_formatters)
        self._feed = MarketFeed(
            self._venue.tape,
            self._venue.books,
            self._venue.formatters,
            liquidations if self.market == "usdm" else None,
        )
        self._outbox: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
        self._close: CloseRequest | None = None
        self._closing = asyncio.Event()
        self._opened_s = time.monotonic()
        self._shutdown_at: float | None = None
        self._received: deque[float] = deque()
        self._follow(state)

    def request_close(self, request: CloseRequest) -> None:
        """End the connection soon; the first request wins."""
        if self._close is None:
            self._close = request
            self._closing.set()

    def announce_shutdown(self, grace_s: float) -> None:
        """Send Binance's ``serverShutdown`` event, then close after ``grace_s``.

        The event is ``{"e": "serverShutdown", "E": <ms>}``, sent bare even on combined
        connections: it belongs to the connection, not to a stream (Binance announces it
        about ten minutes ahead; here the grace is configurable).
        """
        event = {"e": "serverShutdown", "E": self._runtime.clock.now_ms()}
        self._enqueue(orjson.dumps(event).decode())
        self._shutdown_at = time.monotonic() + grace_s

    async def run(self) -> None:
        stats = self._runtime.stats
        self._runtime.connections.add(self)
        stats.ws_open += 1
        stats.ws_opened_total += 1
        try:
            await self._serve_until_closed()
        finally:
            self._runtime.connections.discard(self)
            stats.ws_open -= 1
        request = self._close
        if request is not None and request.code is not None:
            with contextlib.suppress(Exception):
                await self._ws.close(request.code, request.reason)
        # Returning without a close frame makes uvicorn drop the TCP connection: the
        # abrupt disconnect that ``drop_connections`` and downtime simulate.

    async def _serve_until_closed(self) -> None:
        jobs = (self._read(), self._push(), self._write(), self._closing.wait())
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect):
                log.debug("sim connection ended by %r", result)

    async def _read(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode(errors="replace")
            if self._too_chatty(time.monotonic()):
                self.request_close(CloseRequest(1008, "Too many messages"))
                return
            venue = self._venue
            limit = self._runtime.config.max_streams_per_connection
            outcome = handle_control(text, self._state, venue.listed, limit, venue.market)
            self._follow(outcome.state)
            self._enqueue(orjson.dumps(outcome.reply).decode())

    async def _push(self) -> None:
        while True:
            self._tick(self._runtime.clock.now_ms(), time.monotonic())
            await asyncio.sleep(TICK_S)

    async def _write(self) -> None:
        while True:
            due, text = await self._outbox.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._ws.send_text(text)
            self._runtime.stats.ws_messages_sent += 1

    def _tick(self, now_ms: int, real_s: float) -> None:
        config = self._runtime.config
        if self._shutdown_at is not None and real_s >= self._shutdown_at:
            self.request_close(CloseRequest(1001, "server shutdown"))
            return
        if real_s - self._opened_s >= config.connection_max_age_s:
            self.request_close(CloseRequest(1001, "connection age limit"))
            return
        garbage = self.faults.take_malformed()
        if garbage:
            first = self._state.streams[0].name if self._state.streams else "unknown"
            for text in garbage_frames(garbage, first if self._state.combined else None, now_ms):
                self._enqueue(text)
        truth = self._runtime.truth(self.market)
        for stream, cursor in list(self._cursors.items()):
            cadence = cadence_for(stream.interval, self._venue.push_interval_s)
            now = (now_ms, real_s)
            plan = plan_push(cursor, stream.interval, now, cadence, config.max_catchup_finals)
            self._cursors[stream] = plan.cursor
            self._send_plan(truth, stream, plan, now_ms)
        for market_stream, payload in self._feed.due(now_ms, self.faults):
            self._send_data(market_stream, payload)

    def _send_plan(self, truth: GroundTruth, stream: KlineStream, plan: PushPlan, now: int) -> None:
        formatter = self._venue.klines[stream.symbol]
        for open_time in plan.finals:
            kline = truth.kline(stream.symbol, stream.interval, open_time, now)
            if kline is not None and not self.faults.take_skip_final():
                self._send_data(stream, formatter.event(kline, now, final=True))
        if plan.forming is not None:
            kline = truth.kline(stream.symbol, stream.interval, plan.forming, now)
            if kline is not None:
                self._send_data(stream, formatter.event(kline, now, final=False))

    def _send_data(self, stream: Stream, payload: Json) -> None:
        body = {"stream": stream.name, "data": payload} if self._state.combined else payload
        text = orjson.dumps(body).decode()
        for _ in range(2 if self.faults.take_duplicate() else 1):
            self._enqueue(text)

    def _enqueue(self, text: str) -> None:
        real = time.monotonic()
        if self.faults.stalled(real):
            return
        if self._outbox.qsize() >= OUTBOX_LIMIT:
            self.request_close(CloseRequest(1008, "slow consumer"))
            return
        self._outbox.put_nowait((real + self.faults.delay(real), text))

    def _follow(self, state: SessionState) -> None:
        now, real = self._runtime.clock.now_ms(), time.monotonic()
        routed = [s for s in state.streams if route_of(s, self.market) == self._route]
        self._cursors = {
            s: self._cursors.get(s) or start_cursor(s.interval, now, real, self._phase(s))
            for s in routed
            if isinstance(s, KlineStream)
        }
        self._feed.follow(routed, now)
        self._state = state

    def _phase(self, stream: KlineStream) -> float:
        if not self._runtime.config.stagger_pushes:
            return 0.0
        return stream_phase(stream.name, cadence_for(stream.interval, self._venue.push_interval_s))

    def _too_chatty(self, real_s: float) -> bool:
        self._received.append(real_s)
        while self._received and self._received[0] <= real_s - 1.0:
            self._received.popleft()
        return len(self._received) > self._venue.max_incoming_per_second


def _stream_endpoint(market: Market, route: str) -> Callable[[WebSocket], Awaitable[None]]:
    async def serve(websocket: WebSocket) -> None:
        runtime: SimRuntime = websocket.app.state.sim
        venue = runtime.venue(market)
        if runtime.down_now():
            await _deny(websocket, 503, {"code": -1008, "msg": "Service Unavailable."})
            return
        try:
            streams = _initial_streams(websocket, runtime, venue)
        except StreamRequestError as error:
            await _deny(websocket, 400, {"code": error.error_code, "msg": error.msg})
            return
        await websocket.accept()
        combined = websocket.url.path.removeprefix(route).startswith("/stream")
        state = SessionState(streams, combined)
        await SimConnection(runtime, websocket, state, (venue, route)).run()

    return serve


def _initial_streams(websocket: WebSocket, runtime: SimRuntime, venue: Venue) -> tuple[Stream, ...]:
    raw = websocket.path_params.get("streams") or websocket.query_params.get("streams") or ""
    names = [name for name in raw.split("/") if name]
    parsed = (parse_stream(name, venue.listed, venue.market) for name in names)
    streams = tuple(dict.fromkeys(parsed))
    limit = runtime.config.max_streams_per_connection
    if len(streams) > limit:
        raise StreamRequestError(2, f"Invalid request: too many streams, at most {limit}")
    return streams


async def _deny(websocket: WebSocket, status: int, body: Json) -> None:
    """Refuse the handshake with an HTTP response, as a real exchange edge would."""
    try:
        await websocket.send_denial_response(JsonResponse(body, status))
    except RuntimeError:  # the server does not support denial responses
        await websocket.close(1008)


def ws_routes() -> list[WebSocketRoute]:
    """Spot at ``/ws``, ``/ws/<streams>`` and ``/stream``; USD-M futures under the routes
    ``/market`` (klines, aggTrades, forceOrder) and ``/public`` (depth)."""
    places: tuple[tuple[Market, str], ...] = (
        ("spot", ""),
        ("usdm", "/market"),
        ("usdm", "/public"),
    )
    routes: list[WebSocketRoute] = []
    for market, route in places:
        serve = _stream_endpoint(market, route)
        routes += [
            WebSocketRoute(f"{route}/ws", serve),
            WebSocketRoute(f"{route}/ws/{{streams:path}}", serve),
            WebSocketRoute(f"{route}/stream", serve),
        ]
    return routes
