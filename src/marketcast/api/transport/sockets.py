"""Accepting a WebSocket and reading its client messages: what every endpoint shares.

:class:`Sockets` holds the node's socket policy (token, queue limit, send deadline,
inbound size and rate limits) and the shared batch windows; every contract's endpoint
opens its sessions and runs its read loop through it, so all of them refuse and limit
clients the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from marketcast.api.errors import error_code, error_details
from marketcast.api.transport.access import chosen_subprotocol, is_allowed, origin_allowed
from marketcast.api.transport.batching import BatchWindow
from marketcast.api.transport.liveness import AckPolicy
from marketcast.api.transport.messages import error_message
from marketcast.api.transport.ratelimit import TokenBucket
from marketcast.api.transport.session import ClientSession
from marketcast.config import Settings
from marketcast.errors import MarketcastError
from marketcast.metrics import SLOW_CONSUMER_CLOSES, WS_CLIENTS

log = logging.getLogger(__name__)

CLOSE_POLICY: Final = 1008
HEARTBEAT_TICK_S: Final = 1.0
# Sessions checked per turn of the event loop (see Heartbeat).
HEARTBEAT_SLICE: Final = 250
MAX_BATCH_MS: Final = 1000

MessageHandler = Callable[[ClientSession, str], Awaitable[None]]
# The sessions opened on one connection, ended by EndSessions when its endpoint returns.
SESSIONS_KEY: Final = "marketcast.sessions"


def send_error(session: ClientSession, error: MarketcastError, **extra: object) -> None:
    session.send(error_message(error_code(error), str(error), **error_details(error), **extra))


class Watched(Protocol):
    """What :class:`Heartbeat` needs of a session (``ClientSession`` fits)."""

    @property
    def id(self) -> int: ...

    def on_close(self, cleanup: Callable[[], None]) -> Callable[[], None]: ...

    def check_liveness(self, now: float) -> None: ...


class Heartbeat:
    """Checks every session's acknowledgements once a tick: one timer for the node.

    A tick walks the sessions in slices of :data:`HEARTBEAT_SLICE`, one slice per turn of
    the event loop: with 10,000 clients a tick sends about 2,000 pings, and done at once
    it held the loop 20-70 ms (measured in ``bench/fanout.py --clients 10000``), stalling
    fan-out and every request for as long.
    """

    def __init__(self, tick_s: float = HEARTBEAT_TICK_S) -> None:
        self.tick_s = tick_s
        self._sessions: dict[Watched, None] = {}  # insertion-ordered set
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: Watched) -> None:
        self._sessions[session] = None
        session.on_close(lambda: self._sessions.pop(session, None))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.tick_s, self._tick)

    def _tick(self) -> None:
        self._check(list(self._sessions), 0)

    def _check(self, sessions: list[Watched], start: int) -> None:
        """Check one slice of a tick's sessions; schedule the next slice, or the next tick."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        end = start + HEARTBEAT_SLICE
        for session in sessions[start:end]:
            try:
                session.check_liveness(now)  # a session closed since the tick returns at once
            except Exception:
                log.exception("checking a session's liveness failed", extra={"conn": session.id})
        if end < len(sessions):
            loop.call_soon(self._check, sessions, end)
        elif self._sessions:
            self._timer = loop.call_later(self.tick_s, self._tick)
        else:
            self._timer = None


class Sockets:
    """How this node accepts WebSockets and reads their messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One per ?batch_ms= value in use (at most 1001): a shared timer per window length.
        self.batch_windows: dict[int, BatchWindow] = {}
        self.heartbeat = Heartbeat()
        self.slow_closes = 0  # clients closed with 4008, for /health
        self._open: dict[ClientSession, None] = {}  # insertion-ordered set
        self.ack_policy = AckPolicy(
            max_age_s=settings.client_send_timeout_s,
            max_unacked_bytes=settings.client_max_unacked_bytes,
        )

    async def open(self, websocket: WebSocket, *, batching: bool = False) -> ClientSession | None:
        """Accept the socket, or refuse the handshake (HTTP 403) when its origin is not
        allowed or its token is missing or wrong; wrap it in a session.

        With ``batching`` the client may ask for batched frames with ``?batch_ms=N``; a
        value that is not an integer in 0..1000 is accepted and closed at once with 1008
        and the reason (a refused handshake could not say why).
        """
        settings = self.settings
        refusal = self._refusal(websocket)
        if refusal is not None:
            # Closing before accepting refuses the handshake: the client sees HTTP 403.
            log.warning("websocket refused: %s", refusal, extra={"path": websocket.url.path})
            await websocket.close(CLOSE_POLICY, refusal)
            return None
        batch: BatchWindow | None = None
        await websocket.accept(subprotocol=chosen_subprotocol(websocket))
        if batching and (given := websocket.query_params.get("batch_ms")) is not None:
            if not (given.isascii() and given.isdigit() and int(given) <= MAX_BATCH_MS):
                reason = f"batch_ms must be an integer 0..{MAX_BATCH_MS}"
                await websocket.close(CLOSE_POLICY, reason)
                return None
            batch = self._batch_window(int(given))
        session = ClientSession(
            websocket,
            settings.client_queue_limit,
            settings.client_send_timeout_s,
            batch=batch,
            acks=self.ack_policy,
            on_slow=self._count_slow,
        )
        if session.acks is not None:
            self.heartbeat.add(session)
        self._track(session, websocket)
        websocket.scope.setdefault(SESSIONS_KEY, []).append(session)
        return session

    def queue_depths(self) -> list[int]:
        """Messages queued for each open session (for ``/metrics``)."""
        return [session.queued for session in self._open]

    def _track(self, session: ClientSession, websocket: WebSocket) -> None:
        # The route template (``/ws/candles/{symbol}``): a bounded label, unlike the path.
        route = getattr(websocket.scope.get("route"), "path", "other")
        clients = WS_CLIENTS.labels(route)
        clients.inc()
        self._open[session] = None

        def closed() -> None:
            clients.dec()
            self._open.pop(session, None)

        session.on_close(closed)

    def _count_slow(self) -> None:
        self.slow_closes += 1
        SLOW_CONSUMER_CLOSES.inc()

    def _refusal(self, websocket: WebSocket) -> str | None:
        """Why the handshake is refused (never quoting a credential), or ``None``."""
        origin = websocket.headers.get("origin")
        if not origin_allowed(origin, self.settings.cors_origins):
            return f"origin {str(origin)[:100]!r} is not allowed"
        if not is_allowed(websocket, self.settings.auth_token):
            return "missing or invalid token"
        return None

    def _batch_window(self, window_ms: int) -> BatchWindow:
        batch = self.batch_windows.get(window_ms)
        if batch is None:
            batch = self.batch_windows[window_ms] = BatchWindow(window_ms / 1000)
        return batch

    def reader(
        self, session: ClientSession, handle: MessageHandler
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """A read loop that rate-limits and size-limits client messages and never dies
        of one: a bad message gets an ``error`` reply and the connection stays up."""
        settings = self.settings
        rate = settings.max_client_messages_per_s
        bucket = TokenBucket(rate, rate * 2, time.monotonic())

        async def loop() -> None:
            while True:
                message = await session.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text")
                if raw is None:
                    data = message.get("bytes") or b""
                    raw = data.decode(errors="replace")
                if len(raw) > settings.max_ws_message_bytes:
                    session.send(error_message("too_large", "message too large"))
                elif not bucket.take(time.monotonic()):
                    session.send(error_message("rate_limited", "too many messages; slow down"))
                else:
                    await _handle(session, raw, handle)

        return loop


class EndSessions:
    """ASGI middleware: end every session a WebSocket endpoint opened once it returns.

    An endpoint that refuses a socket after accepting it (an unknown symbol, a bad
    query) returns without serving the session; without this its heartbeat entry and
    its place in the client count would stay until the heartbeat took it for a slow
    consumer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            for session in scope.get(SESSIONS_KEY, ()):
                session.end()


async def _handle(session: ClientSession, raw: str, handle: MessageHandler) -> None:
    try:
        await handle(session, raw)
    except MarketcastError as error:
        send_error(session, error)
    except TimeoutError:
        session.send(error_message("not_ready", "topic did not become ready in time"))
    except Exception:
        # A bug handling one message must not cost the client its connection.
        log.exception("handling a client message failed", extra={"conn": session.id})
        session.send(error_message("internal", "internal error; please retry"))
