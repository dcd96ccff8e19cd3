"""A WebSocket client on a raw socket that reads only when told to.

Library clients keep draining the socket into their own buffers even when the
application stops consuming, so they cannot play a peer that truly stops reading. This
one uses websockets' sans-I/O protocol over a socket with a small receive buffer: when
``read_until_closed`` is not running, nothing is read at all, and the server's send path
fills up as it would for a stalled browser tab or a congested mobile link.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri


class StalledClient:
    def __init__(self, url: str, receive_buffer: int = 4096) -> None:
        self._uri = parse_uri(url)
        self._protocol = ClientProtocol(self._uri, max_size=2**24)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._sock.setblocking(False)
        self.close_code: int | None = None
        self.close_reason = ""

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self._sock, (self._uri.host, self._uri.port))
        self._protocol.send_request(self._protocol.connect())
        await self._flush()
        while self._protocol.handshake_exc is None and not self._handshake_done():
            self._protocol.receive_data(await loop.sock_recv(self._sock, 4096))
            self._protocol.events_received()
        if self._protocol.handshake_exc is not None:
            raise self._protocol.handshake_exc

    def _handshake_done(self) -> bool:
        return self._protocol.state.name == "OPEN"

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        for chunk in self._protocol.data_to_send():
            if chunk:
                await loop.sock_sendall(self._sock, chunk)

    async def send_json(self, message: Any) -> None:
        self._protocol.send_text(orjson.dumps(message))
        await self._flush()

    async def read_until_closed(self) -> list[dict[str, Any]]:
        """Resume reading: return every JSON message until the server closes."""
        loop = asyncio.get_running_loop()
        messages: list[dict[str, Any]] = []
        while self.close_code is None:
            data = await loop.sock_recv(self._sock, 65536)
            if not data:
                self._protocol.receive_eof()
            else:
                self._protocol.receive_data(data)
            for event in self._protocol.events_received():
                self._collect(event, messages)
            await self._flush()  # pongs and the closing handshake
            if not data and self.close_code is None:
                self.close_code = 1006
        return messages

    def _collect(self, event: object, messages: list[dict[str, Any]]) -> None:
        if not isinstance(event, Frame):
            return
        if event.opcode is Opcode.TEXT:
            messages.append(orjson.loads(event.data))
        elif event.opcode is Opcode.CLOSE:
            rcvd = self._protocol.close_rcvd
            self.close_code = rcvd.code if rcvd is not None else 1005
            self.close_reason = rcvd.reason if rcvd is not None else ""

    def close(self) -> None:
        self._sock.close()
