"""Running the simulated exchange: an in-process uvicorn server on a loopback port.

``async with SimExchange(SimConfig(speed=60)) as sim:`` serves REST at ``sim.rest_base``
and streams at ``sim.ws_base`` until the block ends; :func:`serve_sim` does the same
until cancelled, for the ``marketcast sim`` command. Both markets share the one port:
spot at ``/api/v3`` and ``/ws``, ``/stream``; USD-M futures at ``/fapi/v1`` and the
routed ``/market/...``, ``/public/...`` stream paths (so the futures REST and WS bases
are ``sim.rest_base`` and ``sim.ws_base`` too); the liquidation-history service at
``/liquidation-history/{symbol}`` (``LIQUIDATION_API_BASE_URL`` = ``sim.rest_base``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Final

import uvicorn
from starlette.applications import Starlette

from marketcast.domain.intervals import MINUTE_MS
from marketcast.exchanges.sim.clock import VirtualClock
from marketcast.exchanges.sim.config import SimConfig
from marketcast.exchanges.sim.injection import Faults
from marketcast.exchanges.sim.rest.futures import futures_routes
from marketcast.exchanges.sim.rest.spot import rest_routes
from marketcast.exchanges.sim.runtime import CloseRequest, SimRuntime, SimStats
from marketcast.exchanges.sim.truth.book import BookState
from marketcast.exchanges.sim.truth.ground_truth import GroundTruth
from marketcast.exchanges.sim.wire.streams import Market
from marketcast.exchanges.sim.ws.sockets import ws_routes

log = logging.getLogger(__name__)

_STARTUP_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 5.0


class _DenialNoise(logging.Filter):
    """Drops the ERROR uvicorn's websockets-sansio protocol logs after every handshake
    denied with an HTTP response (it never marks that handshake complete; upstream:
    Kludex/uvicorn#3138). The simulator denies by design (exchange downtime, bad stream
    names), and a 503 on purpose is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


_DENIAL_NOISE: Final = _DenialNoise()


def build_app(runtime: SimRuntime) -> Starlette:
    """The Starlette app serving ``runtime``: Binance spot and USD-M REST and stream paths,
    and the liquidation-history service."""
    app = Starlette(routes=[*rest_routes(), *futures_routes(), *ws_routes()])
    app.state.sim = runtime
    return app


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handlers: the embedding program owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class SimExchange:
    """A simulated Binance (spot and USD-M futures) serving on a free loopback port.

    Args:
        config: what to simulate.
        host: interface to bind; loopback by default.
        port: 0 picks a free port.
        wall_time: wall clock for the per-minute weight window (injectable for tests).
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or SimConfig()
        self._host, self._port = host, port
        # Held still until the server is up, so startup time never shifts the start. On
        # the wall clock it runs on the wall clock: a VM paused, or a clock stepped by
        # NTP, would otherwise leave every candle closing that much off the wall minute
        # for good (this VM's wall clock once moved 6 s against its monotonic one in a
        # minute); a real exchange's candles close on the wall minute whatever happened.
        real = time.time if self._on_wall_clock() else time.monotonic
        self.clock = VirtualClock(self._start_ms(), self.config.speed, real, paused=True)
        self._runtime = SimRuntime(self.config, self.clock, wall_time)
        self.faults = Faults(self._runtime)
        self._server: _EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self._schedule: asyncio.Task[None] | None = None
        self._bound_port = 0

    @property
    def rest_base(self) -> str:
        return f"http://{self._netloc()}"

    @property
    def ws_base(self) -> str:
        return f"ws://{self._netloc()}"

    @property
    def truth(self) -> GroundTruth:
        """Spot's ground truth under the downtimes injected so far (read it again after
        one)."""
        return self._runtime.truth()

    @property
    def futures_truth(self) -> GroundTruth:
        """USD-M's ground truth: its perpetuals' own tape (spot's at a small basis)."""
        return self._runtime.truth("usdm")

    def market_truth(self, market: Market) -> GroundTruth:
        return self._runtime.truth(market)

    def book_at(self, symbol: str, update_id: int, market: Market = "spot") -> BookState:
        """The true order book of ``symbol`` in ``market`` right after update ``update_id``."""
        return self._runtime.venue(market).books[symbol].by_id(update_id)

    @property
    def stats(self) -> SimStats:
        return self._runtime.stats

    async def __aenter__(self) -> SimExchange:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Bind, serve, and start the fault schedule; returns once accepting."""
        sock = _bind(self._host, self._port)
        self._bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self._runtime),
            lifespan="off",
            ws="websockets-sansio",
            ws_ping_interval=self.config.ws_ping_interval_s,
            ws_ping_timeout=self.config.ws_ping_timeout_s,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        logging.getLogger("uvicorn.error").addFilter(_DENIAL_NOISE)  # once: a set of filters
        self._server = _EmbeddedServer(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        await self._wait_started(self._serving)
        if not self.config.start_paused:
            if self._on_wall_clock():
                # Binding took real time: catch up, or every candle would close late by it.
                self.clock.advance(max(0, self._wall_ms() - self.clock.now_ms()))
            self.clock.resume()
        schedule = self.faults.run_schedule(self.config.faults, time.monotonic())
        self._schedule = asyncio.create_task(schedule)

    async def aclose(self) -> None:
        """Close every connection and stop serving; safe to call twice."""
        if self._schedule is not None:
            self._schedule.cancel()
            await asyncio.gather(self._schedule, return_exceptions=True)
            self._schedule = None
        for conn in list(self._runtime.connections):
            conn.request_close(CloseRequest(1001, "simulator stopping"))
        if self._server is not None:
            self._server.should_exit = True
        if self._serving is not None:
            # uvicorn drains for up to ``timeout_graceful_shutdown``; past our own
            # deadline the serving task is cancelled rather than waited for.
            done, _ = await asyncio.wait([self._serving], timeout=_SHUTDOWN_TIMEOUT_S)
            if not done:
                self._serving.cancel()
            await asyncio.gather(self._serving, return_exceptions=True)
            self._serving = None
        self._server = None

    async def _wait_started(self, serving: asyncio.Task[None]) -> None:
        assert self._server is not None
        async with asyncio.timeout(_STARTUP_TIMEOUT_S):
            while not self._server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("simulator server stopped during startup")
                await asyncio.sleep(0.01)

    def _on_wall_clock(self) -> bool:
        """Whether virtual time is the wall clock itself: real speed, no start asked for
        (nor a paused start: a test that resumes the clock itself owns its time).

        As on Binance, a candle then closes on the wall-clock minute and event times
        agree with the consumer's clock (the hub's ``stream_timestamp`` reads it too).
        """
        config = self.config
        return config.start_ms is None and config.speed == 1.0 and not config.start_paused

    def _start_ms(self) -> int:
        if self.config.start_ms is not None:
            return self.config.start_ms
        if self._on_wall_clock():
            return self._wall_ms()
        # Faster than real: whole minutes from the start, so the demo's first candle is
        # whole too; the clock then runs ahead of the wall clock by design.
        return self._wall_ms() // MINUTE_MS * MINUTE_MS

    @staticmethod
    def _wall_ms() -> int:
        # Not ``wall_time``: tests freeze that one for the weight window only.
        return int(time.time() * 1000)

    def _netloc(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._bound_port}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only
    # when the protocol says TCP, and without it keep-alive requests stall ~40 ms (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def serve_sim(config: SimConfig, host: str = "127.0.0.1", port: int = 9200) -> None:
    """Serve the simulator until cancelled, logging its base URLs."""
    async with SimExchange(config, host, port) as sim:
        log.info(
            "SIMULATED Binance spot + USD-M exchange: REST %s  WS %s  (seed %s, speed %gx)",
            sim.rest_base,
            sim.ws_base,
            config.seed,
            config.speed,
        )
        print(f"marketcast sim: REST {sim.rest_base}  WS {sim.ws_base}", flush=True)
        await asyncio.Event().wait()
