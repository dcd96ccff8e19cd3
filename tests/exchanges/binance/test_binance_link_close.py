"""Closing a link completes the close handshake even while the peer floods it with data."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from marketcast.exchanges.binance.link import Link, LinkCounters
from marketcast.exchanges.binance.messages import StreamEvent
from support.wsio import connect

TRADE = orjson.dumps(
    {
        "stream": "btcusdt@aggTrade",
        "data": {
            "e": "aggTrade",
            "E": 1,
            "s": "BTCUSDT",
            "a": 1,
            "p": "1.0",
            "q": "1.0",
            "f": 1,
            "l": 1,
            "T": 1,
            "m": False,
            "M": True,
        },
    }
).decode()


class Flood:
    """Sends market data without pause, like a busy exchange stream (yielding between
    frames only so that both ends share this test's event loop)."""

    def __init__(self) -> None:
        self.sent = 0

    async def __call__(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(TRADE)
                self.sent += 1
                await asyncio.sleep(0)


async def test_close_completes_the_handshake_while_the_peer_keeps_sending() -> None:
    # At shutdown the consumer has stopped and the reader is cancelled: websockets stops
    # reading the socket once its receive queue is full, so without discarding what
    # still arrives the peer's close frame never gets through and the close ends by
    # timeout (connection aborted, no close frame received).
    received: list[StreamEvent] = []
    consumer_gone = asyncio.Event()

    async def emit(event: StreamEvent) -> None:
        received.append(event)
        if len(received) >= 100:
            await consumer_gone.wait()  # the consumer stops reading

    flood = Flood()
    async with serve(flood, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", close_timeout=2.0)
        link = Link(
            ws,
            ["btcusdt@aggTrade"],
            emit=emit,
            counters=LinkCounters(),
            data_timeout=30.0,
            ack_timeout=5.0,
        )
        link.start()
        await link.go_live()
        async with asyncio.timeout(10):
            while flood.sent < 20_000:  # far beyond the receive queue: reading has paused
                await asyncio.sleep(0.01)
        await link.close()
    assert ws.protocol.close_rcvd is not None, "the close ended by timeout, not handshake"
    assert ws.protocol.close_rcvd.code == 1000
    assert link.ended.done()
