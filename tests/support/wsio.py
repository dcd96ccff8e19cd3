"""Small WebSocket helpers for tests: bounded receives on a websockets client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

Json = dict[str, Any]


async def receive(ws: ClientConnection, timeout: float = 5.0) -> Json:
    async with asyncio.timeout(timeout):
        message: Json = orjson.loads(await ws.recv())
        return message


async def receive_until(
    ws: ClientConnection, wanted: Callable[[Json], bool], timeout: float = 8.0
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


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> ConnectionClosed:
    """Read until the server closes; return how it closed."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed
    raise AssertionError("unreachable")
