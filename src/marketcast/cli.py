"""``marketcast serve | sim | demo``: flags mirror the settings (see README)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

import httpx
import uvicorn
import uvloop

from marketcast import runtime
from marketcast.config import Settings
from marketcast.logs import configure

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies

log = logging.getLogger("marketcast")

_SERVE_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--symbols", "symbols", str, "comma-separated symbols, e.g. BTCUSDT,ETHUSDT"),
    ("--intervals", "intervals", str, "comma-separated intervals, e.g. 1m,5m,1h"),
    ("--buffer-size", "buffer_size", int, "candles kept per symbol and interval"),
    ("--store", "store", str, "memory (default) or redis"),
    ("--redis-url", "redis_url", str, "Redis URL for --store redis"),
    ("--redis-prefix", "redis_prefix", str, "key prefix, e.g. 'mc:' (shared by all nodes)"),
    ("--role", "role", str, "all (default), ingest or api; scale-out needs --store redis"),
    ("--node-id", "node_id", str, "name of this node in the leader lease"),
    ("--rest-base", "rest_base", str, "exchange REST origin"),
    ("--ws-base", "ws_base", str, "exchange WebSocket origin"),
    ("--market", "market", str, "primary market for candles, trades, book: spot or usdm"),
    ("--futures-rest-base", "futures_rest_base", str, "USD-M futures REST origin"),
    ("--futures-ws-base", "futures_ws_base", str, "USD-M futures WebSocket origin"),
    ("--host", "host", str, "bind address (default 127.0.0.1)"),
    ("--port", "port", int, "bind port (default 8000)"),
    ("--log-level", "log_level", str, "DEBUG, INFO, WARNING"),
    ("--auth-token", "auth_token", str, "require this bearer token"),
    ("--cors-origins", "cors_origins", str, "comma-separated allowed origins (default *)"),
    ("--feeds", "feeds", str, "books,trades,liquidations (default all; empty: candles only)"),
)


def _add_serve_flags(parser: argparse.ArgumentParser) -> None:
    for flag, dest, kind, help_text in _SERVE_FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=help_text)


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Environment first, then any flag given on the command line."""
    given = {dest: v for _, dest, _, _ in _SERVE_FLAGS if (v := getattr(args, dest)) is not None}
    return Settings(**{**given, **overrides})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketcast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve_flags(commands.add_parser("serve", help="serve live exchange data"))
    sim = commands.add_parser("sim", help="run the simulated Binance exchange alone")
    demo = commands.add_parser("demo", help="simulated exchange + hub, no network needed")
    _add_serve_flags(demo)
    for p, port in ((sim, 9100), (demo, 0)):
        p.add_argument("--sim-port", type=int, default=port, help="simulator port")
        p.add_argument("--seed", type=int, default=7, help="tape seed (deterministic)")
        p.add_argument("--speed", type=float, default=1.0, help="virtual clock speed factor")
        p.add_argument("--faults", default="", help="fault schedule, see README")
    sim.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    return parser


async def _serve(settings: Settings, *, simulated: bool) -> None:
    from marketcast.api.app import create_app
    from marketcast.api.transport.server import server_config

    app = create_app(settings, simulated=simulated)
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


def _sim_config(args: argparse.Namespace) -> Any:
    from marketcast.exchanges.sim import FaultSchedule, SimConfig

    return SimConfig(seed=args.seed, speed=args.speed, faults=FaultSchedule.parse(args.faults))


async def _demo(args: argparse.Namespace) -> None:
    """The simulator in a process of its own, then the hub in front of it.

    Sharing one event loop, a starved machine made the two starve each other: the hub's
    REST requests timed out because the simulator could not run to answer them.
    """
    port = args.sim_port or _free_port()
    origin = f"http://127.0.0.1:{port}"
    sim_flags = ["--sim-port", str(port), "--seed", str(args.seed), "--speed", str(args.speed)]
    if args.faults:
        sim_flags += ["--faults", args.faults]
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "marketcast.cli", "sim", *sim_flags, "--exit-with-parent"
    )
    try:
        await _wait_for_sim(origin, sim)
        # One simulator origin serves spot and USD-M futures (routed /market, /public).
        ws = origin.replace("http://", "ws://", 1)
        settings = settings_from(
            args, rest_base=origin, ws_base=ws, futures_rest_base=origin, futures_ws_base=ws
        )
        log.warning("DEMO: SIMULATED exchange at %s (speed x%g)", origin, args.speed)
        await _serve(settings, simulated=True)
    finally:
        await _stop(sim)


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


async def _sim(args: argparse.Namespace) -> None:
    from marketcast.exchanges.sim import serve_sim

    if args.exit_with_parent:
        _exit_with_parent()
    await serve_sim(_sim_config(args), host="127.0.0.1", port=args.sim_port)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    env = Settings()
    level = getattr(args, "log_level", None) or env.log_level
    configure(level, secrets=(getattr(args, "auth_token", None) or "", env.auth_token or ""))
    runners = {
        "serve": lambda: _serve(settings_from(args), simulated=False),
        "demo": lambda: _demo(args),
        "sim": lambda: _sim(args),
    }
    # uvloop: the event loop and socket writes in C. With one send deadline per batch it
    # took a quarter off the CPU per delivered update in bench/fanout.py, and REST
    # /candles went from 1440 to 3519 requests/s in bench/rest.py.
    runtime.tune_collector()
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(runners[args.command]())


if __name__ == "__main__":
    main()
