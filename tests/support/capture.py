"""Sessions on every WebSocket protocol of a hub, recording what the server sends.

Used by the AsyncAPI test: each session provokes the messages its protocol documents
(snapshots, updates, acknowledgements, pongs, errors, refusals) and keeps every frame
received, keyed by the route template the AsyncAPI document names.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from support.wsio import connect

Json = dict[str, Any]


@dataclass
class Captured:
    """Server messages by route template, and client messages sent, in order."""

    received: dict[str, list[Json]] = field(default_factory=dict)
    sent: dict[str, list[Json | str]] = field(default_factory=dict)

    def types(self, route: str) -> set[str]:
        return {str(m.get("type")) for m in self.received.get(route, [])}


class Session:
    """One socket on ``route`` (a template) that records both directions."""

    def __init__(self, captured: Captured, route: str, ws: ClientConnection) -> None:
        self.route = route
        self.ws = ws
        self._received = captured.received.setdefault(route, [])
        self._sent = captured.sent.setdefault(route, [])

    async def send(self, message: Json | str) -> None:
        """Send ``message`` as JSON, or a ``str`` as it is (the bare ``ping``)."""
        self._sent.append(message)
        text = message if isinstance(message, str) else orjson.dumps(message).decode()
        await self.ws.send(text)

    async def until(self, done: Callable[[list[Json]], bool], timeout: float = 60) -> None:
        """Record frames until ``done(all recorded on this route)`` holds."""
        async with asyncio.timeout(timeout):
            while not done(self._received):
                try:
                    frame = await self.ws.recv()
                except ConnectionClosed:
                    return
                self._received.append(orjson.loads(frame))

    async def until_types(self, wanted: Iterable[str], timeout: float = 60) -> None:
        want = set(wanted)
        await self.until(lambda got: want <= {m.get("type") for m in got}, timeout)


@contextlib.asynccontextmanager
async def session(
    captured: Captured, ws_origin: str, route: str, path: str
) -> AsyncIterator[Session]:
    """A socket on ``path`` whose messages are recorded under the template ``route``."""
    async with connect(f"{ws_origin}{path}") as ws:
        yield Session(captured, route, ws)
