"""``ClientSession.serve`` reads in the endpoint's own task: a writer that ends first
interrupts the read loop and serve returns, while a cancellation from outside still
reaches the endpoint (marketcast.api.transport.session), on real uvicorn sockets."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from marketcast.api.transport.session import ClientSession
from support.servers import serve_app

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


class Endpoint:
    """An endpoint whose read loop never returns by itself, recording how serve ended."""

    def __init__(self) -> None:
        self.sessions: list[ClientSession] = []
        self.tasks: list[asyncio.Task[object]] = []
        self.reading = asyncio.Event()
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def run(self, websocket: WebSocket) -> None:
        await websocket.accept()
        session = ClientSession(websocket, queue_limit=10)
        self.sessions.append(session)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)

        async def read_forever() -> None:
            self.reading.set()
            await asyncio.Event().wait()

        try:
            await session.serve(read_forever)
        except asyncio.CancelledError:
            self.ended.set_result("cancelled")
            raise
        self.ended.set_result("returned")


async def test_a_writer_that_ends_first_ends_serve_without_an_error() -> None:
    endpoint = Endpoint()
    app = Starlette(routes=[WebSocketRoute("/ws", endpoint.run)])
    async with serve_app(app) as http, connect(http.replace("http", "ws") + "/ws") as socket:
        await endpoint.reading.wait()
        endpoint.sessions[0].shutdown(4000)  # the writer sends the close and ends
        assert await asyncio.wait_for(asyncio.shield(endpoint.ended), 20) == "returned"
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4000
    assert not endpoint.tasks[0].cancelling()  # the writer's cancellation was taken back


async def test_a_cancellation_from_outside_still_reaches_the_endpoint() -> None:
    endpoint = Endpoint()
    app = Starlette(routes=[WebSocketRoute("/ws", endpoint.run)])
    async with serve_app(app) as http, connect(http.replace("http", "ws") + "/ws"):
        await endpoint.reading.wait()
        endpoint.tasks[0].cancel()
        assert await asyncio.wait_for(asyncio.shield(endpoint.ended), 20) == "cancelled"
        # serve still ended the session: its writer has finished.
        writer = endpoint.sessions[0]._writer
        assert writer is not None
        assert writer.done()
