"""Writing frames straight to a client's connection, below the ASGI send stack.

Fan-out is the hub's hot path. Through ASGI one delivered message passes Starlette's
WebSocket state checks, its exception wrapper, uvicorn's send coroutine and websockets'
frame serialisation before the transport write; a bare ``websockets.broadcast()`` does
little more than the write. Under uvicorn's ``websockets-sansio`` protocol the ASGI
``send`` callable is bound to the connection's protocol object, so
:class:`CaptureConnection` (a middleware with only pass-through layers outside it)
records it in the scope, and :class:`DirectWriter` writes a text frame to its transport
when, and only when, the ASGI path would have written at once: the connection open,
nothing closing, the transport not paused. Anything else returns ``False`` and the
caller takes the ASGI path, which waits, raises or closes as before.

Under any other server (Starlette's TestClient, another uvicorn protocol) nothing is
captured and every send takes the ASGI path.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame
from websockets.protocol import State

from marketcast.api.transport.frames import LastFrame

_SCOPE_KEY = "marketcast.connection"
# One update's text goes to all its subscribers in a row: its frame is built once.
_frames = LastFrame()


class CaptureConnection:
    """ASGI middleware: put the uvicorn protocol behind a WebSocket ``send`` in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            protocol = getattr(send, "__self__", None)
            if isinstance(protocol, WebSocketsSansIOProtocol):
                scope[_SCOPE_KEY] = protocol
        await self.app(scope, receive, send)


class DirectWriter:
    """Writes text frames to one accepted connection without the ASGI layers."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def _can_write(self) -> bool:
        protocol = self._protocol
        return not (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()  # paused: the ASGI send waits for it
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        )

    def write(self, text: str) -> bool:
        """Write ``text`` as one frame now; ``False`` if it cannot be written at once."""
        if not self._can_write():
            return False
        protocol = self._protocol
        connection = protocol.conn
        transport = protocol.transport
        if connection.extensions:
            # permessage-deflate: each connection's compressor has its own history, so
            # its frames are made by its own protocol object, in order.
            connection.send_text(text.encode())
            transport.write(b"".join(connection.data_to_send()))
        else:
            transport.write(_frames.of(text))
        return True

    def ping(self, payload: bytes) -> bool:
        """Send a ping behind everything written so far; ``False`` if it cannot go now."""
        if not self._can_write():
            return False
        connection = self._protocol.conn
        connection.send_ping(payload)
        self._protocol.transport.write(b"".join(connection.data_to_send()))
        return True

    def on_pong(self, callback: Callable[[bytes], None]) -> None:
        """Call ``callback`` with the payload of every pong the client sends.

        uvicorn handles a pong frame with ``self.handle_pong(frame)``, matching it to its
        own keepalive ping; the callback sees every pong first, then uvicorn does.
        """
        protocol = self._protocol
        handle_pong = protocol.handle_pong

        def pong(frame: Frame) -> None:
            callback(bytes(frame.data))
            handle_pong(frame)

        setattr(protocol, "handle_pong", pong)  # noqa: B010 (mypy refuses assigning a method)

    def abort(self) -> None:
        """Drop the connection now, whatever its buffers hold (a client gone silent)."""
        self._protocol.transport.abort()


def writer_for(websocket: WebSocket) -> DirectWriter | None:
    """The direct writer of an accepted ``websocket``, or ``None`` outside uvicorn."""
    protocol = websocket.scope.get(_SCOPE_KEY)
    return DirectWriter(protocol) if protocol is not None else None
