"""Running things: a node under uvicorn, the simulator, and the demo (both, apart).

The demo runs the simulator in a process of its own: sharing one event loop, a starved
machine made the two starve each other (the hub's REST requests timed out because the
simulator could not run to answer them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass

import httpx
import uvicorn

from marketcast import runtime
from marketcast.config import Settings

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies

log = logging.getLogger("marketcast")


@dataclass(frozen=True, slots=True)
class SimOptions:
    port: int
    seed: int
    speed: float
    faults: str


async def serve(settings: Settings, *, simulated: bool, sim_speed: float | None = None) -> None:
    from marketcast.api.app import create_app
    from marketcast.api.transport.server import server_config

    app = create_app(settings, simulated=simulated, sim_speed=sim_speed)
    config = server_config(app, settings)
    server = uvicorn.Server(config)
    freeze = asyncio.create_task(_freeze_once_started(server))
    try:
        await server.serve()
    finally:
        freeze.cancel()


async def _freeze_once_started(server: uvicorn.Server) -> None:
    """Freeze start-up state (see .runtime) once the app's start-up has run."""
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.1)
    runtime.freeze_startup_objects()


async def demo(settings: Settings, sim: SimOptions) -> None:
    """The simulator in a process of its own, then the hub in front of it.

    Sharing one event loop, a starved machine made the two starve each other: the hub's
    REST requests timed out because the simulator could not run to answer them.
    """
    port = sim.port or _free_port()
    origin = f"http://127.0.0.1:{port}"
    flags = ["--sim-port", str(port), "--seed", str(sim.seed), "--speed", str(sim.speed)]
    if sim.faults:
        flags += ["--faults", sim.faults]
    # The simulator logs to the same stderr, so in the same level and format.
    logs = {
        "MARKETCAST_LOG_LEVEL": settings.log_level,
        "MARKETCAST_LOG_FORMAT": settings.log_format,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "marketcast.cli",
        "sim",
        *flags,
        "--exit-with-parent",
        env=os.environ | logs,
    )
    try:
        await _wait_for_sim(origin, process)
        # One simulator origin serves spot and USD-M futures (routed /market, /public).
        ws = origin.replace("http://", "ws://", 1)
        bases = {
            "rest_base": origin,
            "ws_base": ws,
            "futures_rest_base": origin,
            "futures_ws_base": ws,
        }
        log.warning("DEMO: SIMULATED exchange at %s (speed x%g)", origin, sim.speed)
        await serve(settings.model_copy(update=bases), simulated=True, sim_speed=sim.speed)
    finally:
        await _stop(process)


def _exit_with_parent() -> None:
    """End this process (the demo's simulator) when its parent ends, however it ends.

    uvicorn re-raises SIGTERM once it has shut down, and a killed demo runs no cleanup:
    without this the simulator would live on, orphaned, holding its port.
    """
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it ended before the line above took effect
        raise SystemExit(0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_sim(origin: str, sim: asyncio.subprocess.Process) -> None:
    """Return once the simulator answers; raise if it exits first."""
    async with httpx.AsyncClient(base_url=origin, timeout=5.0) as client:
        while sim.returncode is None:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/api/v3/ping")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise SystemExit(f"the simulator exited with status {sim.returncode}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(10):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


async def simulator(options: SimOptions, *, exit_with_parent: bool = False) -> None:
    from marketcast.exchanges.sim import FaultSchedule, SimConfig, serve_sim

    if exit_with_parent:
        _exit_with_parent()
    config = SimConfig(
        seed=options.seed, speed=options.speed, faults=FaultSchedule.parse(options.faults)
    )
    await serve_sim(config, host="127.0.0.1", port=options.port)
