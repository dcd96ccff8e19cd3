"""A TCP relay in front of a hub, for tests that cut a client's socket for real.

The client is given the relay's address, as it would be given a load balancer's. The test
can then drop every connection at once (``cut``: an abrupt loss, no close frame), refuse
new ones for a while (``refusing``), or point the relay at another hub (``target``): a
restarted hub on a new port is the same address to the client.
"""

from __future__ import annotations

import asyncio
from typing import Self
from urllib.parse import urlsplit

from marketcast.resources import AsyncResource, cancel_and_wait


class Relay(AsyncResource):
    def __init__(self, target: str) -> None:
        self.target = target
        self.refusing = False
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def http(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def cut(self) -> int:
        """Abort every relayed connection, both ways; return how many there were."""
        live = list(self._live)
        for writer in live:
            writer.transport.abort()
        return len(live) // 2

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.refusing:
                writer.transport.abort()
                return
            target = urlsplit(self.target)
            try:
                upstream = await asyncio.open_connection(target.hostname, target.port)
            except OSError:
                writer.transport.abort()
                return
            self.accepted += 1
            await self._relay((reader, writer), upstream)
        finally:
            self._tasks.discard(task)

    async def _relay(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        writers = (client[1], upstream[1])
        self._live.update(writers)
        try:
            await asyncio.gather(_pipe(client[0], upstream[1]), _pipe(upstream[0], client[1]))
        finally:
            for writer in writers:
                self._live.discard(writer)
                writer.transport.abort()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def aclose(self) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for task in list(self._tasks):
            await cancel_and_wait(task)
        await self._server.wait_closed()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side ends; ending one direction ends the pair."""
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        sink.transport.abort()
