"""Run ASGI apps and hub nodes on loopback ports, in-process, for real-socket tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from marketcast.api.app import create_app
from marketcast.config import Settings
from marketcast.exchanges.sim import SimConfig, SimExchange


def _listening_socket(send_buffer: int | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:
        # Accepted sockets inherit this; a fixed send buffer also switches off the
        # kernel's autotuning, which would otherwise absorb megabytes for a stalled peer.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


@asynccontextmanager
async def serve_app(
    app: ASGIApp, *, send_buffer: int | None = None, **config: Any
) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yield its ``http://host:port`` origin."""
    sock = _listening_socket(send_buffer)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server exited during start-up")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()


@dataclass
class Running:
    """A simulator and a hub in front of it."""

    sim: SimExchange
    http: str
    settings: Settings

    @property
    def ws(self) -> str:
        return self.http.replace("http://", "ws://", 1)


def hub_settings(sim: SimExchange, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "rest_base": sim.rest_base,
        "ws_base": sim.ws_base,
        # The simulator serves USD-M futures on the same origin (``/fapi/v1``, ``/market``).
        "futures_rest_base": sim.rest_base,
        "futures_ws_base": sim.ws_base,
        "symbols": ("BTCUSDT", "ETHUSDT"),
        "intervals": ("1m",),
        "buffer_size": 300,
        "data_timeout_s": 3.0,
    }
    return Settings(**(base | overrides))


@asynccontextmanager
async def running_hub(
    sim_config: SimConfig, *, send_buffer: int | None = None, **settings: Any
) -> AsyncIterator[Running]:
    async with SimExchange(sim_config) as sim:
        resolved = hub_settings(sim, **settings)
        app = create_app(resolved, simulated=True)
        async with serve_app(app, send_buffer=send_buffer) as http:
            yield Running(sim, http, resolved)


async def wait_ready(http: str, timeout: float = 30.0) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=http) as client, asyncio.timeout(timeout):
        while (await client.get("/ready")).status_code != 200:
            await asyncio.sleep(0.05)
