"""Run ASGI apps and hub nodes on loopback ports, in-process, for real-socket tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from marketcast.api.app import create_app
from marketcast.api.transport.server import server_config
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
    app: ASGIApp,
    *,
    send_buffer: int | None = None,
    settings: Settings | None = None,
    **config: Any,
) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yield its ``http://host:port`` origin.

    With ``settings`` it is served as a node serves itself (header timeout, frame limit).
    """
    sock = _listening_socket(send_buffer)
    if settings is not None:
        server_settings = server_config(app, settings, **config)
    else:
        server_settings = uvicorn.Config(app, log_config=None, lifespan="on", **config)
    server = uvicorn.Server(server_settings)
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
        # Shutdown waits for open connections to end; on a busy machine that takes a
        # while, so the bound is generous rather than tight.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=60)
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
        # These hubs share one event loop with the test and the simulator: on a busy
        # machine a request can wait for that loop longer than a node's 10 s header
        # timeout (tests/e2e/test_admission.py tests the timeout on a node of its own).
        "header_timeout_s": 60.0,
    }
    return Settings(**(base | overrides))


@asynccontextmanager
async def running_hub(
    sim_config: SimConfig, *, send_buffer: int | None = None, **settings: Any
) -> AsyncIterator[Running]:
    async with SimExchange(sim_config) as sim:
        resolved = hub_settings(sim, **settings)
        app = create_app(resolved, simulated=True, sim_speed=sim_config.speed)
        # The same loop-sharing holds for uvicorn's 5 s keep-alive: a test's next request on
        # a kept-alive connection, delayed past it, meets the server closing that
        # connection (httpx.ReadError). Idle connections last as long as the header timeout.
        async with serve_app(
            app, send_buffer=send_buffer, settings=resolved, timeout_keep_alive=60
        ) as http:
            yield Running(sim, http, resolved)


async def wait_ready(
    http: str, timeout: float = 30.0, *, poll_s: float = 0.05, request_timeout: float = 5.0
) -> None:
    """Poll ``/ready`` until it answers 200.

    A probe survives a dropped connection: on a loaded machine the server and this client
    share one event loop, and a poll delayed past the server's keep-alive timeout meets
    the connection as the server closes it (``httpx.ReadError``), which says nothing about
    readiness."""
    async with (
        httpx.AsyncClient(base_url=http, timeout=request_timeout) as client,
        asyncio.timeout(timeout),
    ):
        while True:
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(poll_s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def answers(origin: str) -> bool:
    async with httpx.AsyncClient(base_url=origin) as client:
        try:
            return (await client.get("/ready")).status_code == 200
        except httpx.TransportError:
            return False  # not listening yet


@contextlib.asynccontextmanager
async def demo_process(
    *flags: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, list[str], int]]:
    """``marketcast demo`` (BTCUSDT 1m) in its own process, as a user starts it; yields its
    origin, its log lines so far and its pid."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "marketcast.cli",
        "demo",
        "--port",
        str(port),
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1m",
        *flags,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}),
    )
    lines: list[str] = []

    async def collect() -> None:
        assert process.stderr is not None
        # Lines must grow as they come: a test may read them while the node runs.
        async for line in process.stderr:
            lines.append(line.decode(errors="replace"))  # noqa: PERF401

    reader = asyncio.create_task(collect())
    origin = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(120):
            while not await answers(origin):
                await asyncio.sleep(0.1)
        yield origin, lines, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            await process.wait()
            await reader
