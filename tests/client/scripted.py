"""A scripted hub: a real WebSocket server on loopback that plays what a test tells it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

Json = dict[str, Any]
Script = Callable[[ServerConnection, int], Awaitable[None]]


@asynccontextmanager
async def scripted_hub(
    script: Script, *, refuse_first: int = 0, refusal: HTTPStatus = HTTPStatus.SERVICE_UNAVAILABLE
) -> AsyncIterator[str]:
    """Serve ``script(socket, n)`` for the ``n``-th connection; refuse the first
    ``refuse_first`` handshakes with ``refusal`` and ``Retry-After: 1``."""
    counter = itertools.count()
    handshakes = itertools.count()

    def admit(connection: ServerConnection, request: Request) -> Response | None:
        if next(handshakes) < refuse_first:
            response = connection.respond(refusal, "come back later\n")
            response.headers["Retry-After"] = "1"
            return response
        return None

    async def handler(socket: ServerConnection) -> None:
        await script(socket, next(counter))

    async with serve(handler, "127.0.0.1", 0, process_request=admit) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"


async def receive(socket: ServerConnection) -> Json:
    async with asyncio.timeout(10):
        message: Json = orjson.loads(await socket.recv())
        return message


async def send(socket: ServerConnection, message: Json) -> None:
    await socket.send(orjson.dumps(message).decode())
