"""Frames written straight to uvicorn connections (marketcast.api.transport.direct).

Real uvicorn servers and real clients: the frames must be exactly what the ASGI path
would have sent, with and without permessage-deflate, and a connection that cannot take
a frame at once must be left to the ASGI path, never written past its flow control.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any, Literal

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from marketcast.api.transport.direct import CaptureConnection, DirectWriter, writer_for
from marketcast.exchanges.sim import SimConfig
from support.follow import ChartSeries, Follower, native_candles
from support.rawws import StalledClient
from support.servers import running_hub, serve_app, wait_ready
from support.truth import assert_equals_truth
from support.wsio import connect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TEXTS = ["{}", "x" * 126, '{"symbol":"€→Ω"}', "y" * 70_000]


def frame_app(on_open: Any) -> CaptureConnection:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await on_open(websocket, writer_for(websocket))
        await websocket.receive()  # until the client goes

    return CaptureConnection(Starlette(routes=[WebSocketRoute("/", endpoint)]))


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_direct_frames_read_back_exactly(compression: Literal["deflate"] | None) -> None:
    async def on_open(websocket: WebSocket, writer: DirectWriter | None) -> None:
        assert writer is not None  # uvicorn's sans-I/O protocol was captured
        for text in TEXTS:
            assert writer.write(text)
        await websocket.send_text("via ASGI")  # the two paths interleave in order
        assert writer.write(TEXTS[0])

    async with serve_app(frame_app(on_open)) as http:
        url = http.replace("http://", "ws://", 1)
        async with connect(url, compression=compression, max_size=None) as client:
            received = [await client.recv() for _ in range(len(TEXTS) + 2)]
    assert received == [*TEXTS, "via ASGI", TEXTS[0]]


async def test_a_paused_connection_is_left_to_the_asgi_path() -> None:
    """A peer that stops reading pauses the transport; the writer must then refuse."""
    outcome: dict[str, int] = {}

    async def on_open(websocket: WebSocket, writer: DirectWriter | None) -> None:
        assert writer is not None
        text = "z" * 4096
        for written in range(10_000):  # 40 MB at most: far beyond any socket buffer
            if not writer.write(text):
                outcome["written"] = written
                return
        outcome["written"] = -1

    async with serve_app(frame_app(on_open), send_buffer=32_768) as http:
        client = StalledClient(http.replace("http://", "ws://", 1))
        await client.connect()
        async with asyncio.timeout(30):
            while "written" not in outcome:
                await asyncio.sleep(0.01)
        client.close()
    assert outcome["written"] > 0, "refused before the socket filled"
    assert outcome["written"] != -1, "wrote past the transport's flow control"


async def test_a_closed_connection_is_refused_without_raising() -> None:
    refused = asyncio.Event()

    async def on_open(websocket: WebSocket, writer: DirectWriter | None) -> None:
        assert writer is not None
        await websocket.close(1000)
        if not writer.write("after close"):
            refused.set()

    async with (
        serve_app(frame_app(on_open)) as http,
        connect(http.replace("http://", "ws://", 1)) as client,
        asyncio.timeout(10),
    ):
        await client.wait_closed()
        await refused.wait()


async def test_nothing_is_captured_under_another_server() -> None:
    """Any ASGI server whose ``send`` is not uvicorn's protocol: every send goes via ASGI."""
    seen: list[DirectWriter | None] = []
    sent: list[dict[str, Any]] = []
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message in ({"type": "websocket.connect"}, {"type": "websocket.disconnect"}):
        inbox.put_nowait(message)

    async def on_open(websocket: WebSocket, writer: DirectWriter | None) -> None:
        seen.append(writer)
        await websocket.send_text("hello")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    await frame_app(on_open)(scope, inbox.get, send)
    assert seen == [None]
    assert {"type": "websocket.send", "text": "hello"} in sent


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_the_hub_serves_the_truth_through_direct_frames(
    compression: Literal["deflate"] | None,
) -> None:
    sim = SimConfig(seed=3, symbols=("BTCUSDT",), speed=60.0, push_interval_s=0.2)
    async with running_hub(sim, symbols=("BTCUSDT",), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        series = ChartSeries()
        follower = Follower(series, native_candles(series))
        hello = {"op": "subscribe", "channel": "candles", "symbol": "BTCUSDT", "interval": "1m"}
        await follower.start(f"{hub.ws}/ws", [hello | {"limit": 100}], compression=compression)
        target = hub.sim.clock.now_ms() + 3 * 60_000  # three virtual minutes
        while hub.sim.clock.now_ms() < target:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the last push reaches the client
        await follower.stop()
        updates = [m for m in follower.received if m["type"] == "candle"]
        assert len(updates) >= 10  # a push every 0.2 s for 3 s: updates did flow
        assert_equals_truth(series, hub.sim, "BTCUSDT")
