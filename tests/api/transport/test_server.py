"""The node's WebSocket protocol lets go of the opening handshake and still speaks
WebSocket afterwards (marketcast.api.transport.server), on real uvicorn sockets."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError
from websockets.http11 import Request

from marketcast.api.transport.server import NodeWebSocketProtocol, max_frame_bytes
from marketcast.config import Settings
from support.servers import serve_app

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

CLIENTS = 3


async def echo(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="v1")
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        await websocket.send_text(message["text"].upper())


def probing(
    protocol: type[WebSocketsSansIOProtocol],
) -> tuple[type[Any], list[weakref.ref[Request]]]:
    """``protocol`` recording a weak reference to each handshake request it handles."""
    requests: list[weakref.ref[Request]] = []

    class Probe(protocol):  # type: ignore[valid-type, misc]
        def handle_connect(self, event: Request) -> None:
            requests.append(weakref.ref(event))
            super().handle_connect(event)

    return Probe, requests


async def held_requests(protocol: type[WebSocketsSansIOProtocol], *, compress: bool) -> int:
    """How many handshake requests are alive while ``CLIENTS`` echo connections are open
    (each having exchanged messages and a ping after its handshake)."""
    probe, requests = probing(protocol)
    app = Starlette(routes=[WebSocketRoute("/echo", echo)])
    async with serve_app(app, settings=Settings(), ws=probe) as http:
        url = http.replace("http", "ws") + "/echo"
        extensions = "deflate" if compress else None
        sockets = [
            await connect(url, subprotocols=["v1"], compression=extensions)  # type: ignore[list-item]
            for _ in range(CLIENTS)
        ]
        try:
            for number, socket in enumerate(sockets):
                assert socket.subprotocol == "v1"
                await socket.send(f"hello {number}")
                assert await socket.recv() == f"HELLO {number}"
                await (await socket.ping(b"still there"))
                await socket.send("x" * 60_000)
                assert await socket.recv() == "X" * 60_000
            gc.collect()
            assert len(requests) == CLIENTS
            held = sum(request() is not None for request in requests)
            # The frame limit holds as before: the parser that took over was given it.
            await sockets[0].send("x" * (max_frame_bytes(Settings()) + 1))
            with pytest.raises(ConnectionClosedError) as closed:
                await sockets[0].recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009
            return held
        finally:
            for socket in sockets:
                await socket.close()


@pytest.mark.parametrize("compress", [False, True])
async def test_open_connections_hold_no_handshake_request(compress: bool) -> None:
    assert await held_requests(NodeWebSocketProtocol, compress=compress) == 0


async def test_uvicorns_own_protocol_holds_them_which_is_what_the_node_undoes() -> None:
    # Were this to fail, websockets or uvicorn no longer keep the request, and the node's
    # swap of the frame parser (NodeWebSocketProtocol._parse_frames_afresh) is moot.
    assert await held_requests(WebSocketsSansIOProtocol, compress=False) == CLIENTS
