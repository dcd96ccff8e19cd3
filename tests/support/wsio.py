"""Small WebSocket helpers for tests: handshakes and bounded receives on a websockets client.

The bounds are generous on purpose: CI and users run the suite on two shared cores, where
a hub, a simulator and the test share one event loop. A bound only decides how long a
broken test takes to fail; a healthy one returns as soon as its message arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio import client
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

Json = dict[str, Any]

OPEN_TIMEOUT_S = 60.0
"""websockets' own default (10 s) was hit once by a busy machine in the middle of a handshake."""


Connecting = client.connect
"""What :func:`connect` returns: awaited, a connection; entered, a connection closed on exit."""


def connect(uri: str, **options: Any) -> Connecting:
    """``websockets.asyncio.client.connect`` with a handshake bound fit for a loaded machine."""
    options.setdefault("open_timeout", OPEN_TIMEOUT_S)
    return client.connect(uri, **options)


async def receive(ws: ClientConnection, timeout: float = 20.0) -> Json:
    async with asyncio.timeout(timeout):
        message: Json = orjson.loads(await ws.recv())
        return message


async def receive_until(
    ws: ClientConnection, wanted: Callable[[Json], bool], timeout: float = 30.0
) -> list[Json]:
    """Messages up to and including the first one ``wanted`` accepts."""
    seen: list[Json] = []
    async with asyncio.timeout(timeout):
        while True:
            seen.append(orjson.loads(await ws.recv()))
            if wanted(seen[-1]):
                return seen


async def gather_for(ws: ClientConnection, seconds: float) -> list[Json]:
    """Everything that arrives within ``seconds``."""
    seen: list[Json] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                seen.append(orjson.loads(await ws.recv()))
    return seen


async def closed_with(ws: ClientConnection, timeout: float = 20.0) -> ConnectionClosed:
    """Read until the server closes; return how it closed."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed
    raise AssertionError("unreachable")
