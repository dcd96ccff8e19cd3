"""How uvicorn serves the hub: a header timeout, admission of handshakes, frame limits.

uvicorn waits as long as a client likes for a request's headers: one header line every
few seconds holds a connection (and its memory) forever, and a few hundred such sockets
hold a node. Every connection here must complete a request's headers within
``header_timeout_s`` of opening it, or of the previous response on a kept-alive one;
otherwise it is closed.

A WebSocket upgrade asks the node's :class:`~.admission.Admission` first: a refused one
is answered with its HTTP status and closed before uvicorn builds anything for it (no
WebSocket protocol, no compressor, no ASGI call).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import Protocol

from marketcast.api.transport import light
from marketcast.api.transport.admission import Admission, RefusalLog, refusal_response
from marketcast.config import Settings

log = logging.getLogger(__name__)

# Frames larger than this are refused by the WebSocket layer itself, with close 1009,
# before anything reads them; smaller ones over max_ws_message_bytes get an ``error``.
MAX_FRAME_FACTOR = 16
MIN_FRAME_BYTES = 65536


class NodeHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and handshake admission."""

    header_timeout_s: ClassVar[float] = 10.0
    admission: ClassVar[Admission | None] = None
    refusals: ClassVar[RefusalLog] = RefusalLog()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A kept-alive connection waits for its next request under uvicorn's keep-alive
        # timeout; its headers get the full header timeout once it begins.
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        admission = self.admission
        if admission is None:
            super().handle_websocket_upgrade()
            return
        address = self.client[0] if self.client else "unknown"
        now = self.loop.time()
        refusal = admission.admit(address, now)
        if refusal is not None:
            self.refusals.note(refusal, now)
            self.transport.write(refusal_response(refusal))
            self.transport.close()
            return
        super().handle_websocket_upgrade()
        # The WebSocket protocol now owns the transport: its end is the connection's end.
        protocol = self.transport.get_protocol()
        connection_lost = protocol.connection_lost

        def lost(exc: Exception | None) -> None:
            admission.closed(address)
            connection_lost(exc)

        setattr(protocol, "connection_lost", lost)  # noqa: B010 (an instance's method)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info(
                "closed a connection whose request headers took over %gs",
                self.header_timeout_s,
                extra={"client": f"{self.client[0]}:{self.client[1]}" if self.client else "?"},
            )
            self.transport.close()


class NodeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, holding less for each connection.

    Every open WebSocket of the node pays for what its protocol holds for as long as it
    is open, so it holds what the connection still needs and no more:

    - its queue of received events and its "writable" event are :mod:`.light`'s, which
      allocate only while something waits (3.1 KB less per connection);
    - it lets go of the opening handshake once it is done. uvicorn keeps the request and
      the response as attributes, and websockets' ``ServerProtocol.parse`` generator,
      which goes on to parse every frame, keeps the request in its frame: 4.4 KB of each
      connection's heap (``bench/connection_memory.py``: 27.9 -> 23.4 KB).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Duck-typed stand-ins: uvicorn uses put_nowait, get and empty of the queue,
        # set, clear, is_set and wait of the event.
        self.queue = light.Queue()  # type: ignore[assignment]
        self.writable = light.Event()  # type: ignore[assignment]
        self.writable.set()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        del self.request  # never read again
        if self.response.status_code == 101:
            self._parse_frames_afresh()

    def _parse_frames_afresh(self) -> None:
        """Go on parsing frames with a generator that does not hold the request.

        uvicorn feeds the upgrade request alone, so ``ServerProtocol.parse`` has just
        handed it over and waits at the start of the frame loop it shares with its base
        class, ``Protocol.parse``, having read nothing more. A fresh ``Protocol.parse``
        starts at that same point. Were anything buffered or the stream ended, the two
        would not be at the same point, and the old parser is kept.
        """
        connection = self.conn
        if connection.reader.buffer or connection.reader.eof:
            return
        connection.parser = Protocol.parse(connection)
        next(connection.parser)  # to its first wait for data, as websockets starts it

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.__dict__.pop("response", None)  # sent: never read again


def http_protocol(header_timeout_s: float, admission: Admission | None) -> type[NodeHttpProtocol]:
    """The protocol class of one server (uvicorn makes one instance per connection)."""
    attributes = {
        "header_timeout_s": header_timeout_s,
        "admission": admission,
        "refusals": RefusalLog(),
    }
    return type("NodeHttpProtocol", (NodeHttpProtocol,), attributes)


def max_frame_bytes(settings: Settings) -> int:
    return max(MIN_FRAME_BYTES, settings.max_ws_message_bytes * MAX_FRAME_FACTOR)


def server_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration a node serves with (tests pass ``overrides``).

    ``app.state.admission`` (set by :func:`~marketcast.api.app.create_app`) admits its
    handshakes.
    """
    admission = getattr(getattr(app, "state", None), "admission", None)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "lifespan": "on",
        "http": http_protocol(settings.header_timeout_s, admission),
        "ws": NodeWebSocketProtocol,
        "ws_max_size": max_frame_bytes(settings),
        # Every session pings its client itself, to measure what the client has read
        # (.liveness; it closes a client that stops answering). uvicorn's own keepalive
        # pings on top were a timer per connection and, at 10,000 clients, 500 more pings
        # and pongs a second through websockets' Python frame code.
        "ws_ping_interval": None,
    }
    return uvicorn.Config(app, **(options | overrides))
