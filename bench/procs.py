"""Processes a benchmark runs: the simulated exchange, a hub in front of it, plain servers.

Each runs as its own OS process on a loopback port, so a load generator never shares an
interpreter (or a core's GIL) with what it measures. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).parent / "results"


def save(name: str, result: Any) -> str:
    """Write ``result`` to ``bench/results/<name>.json``; return the file's name."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path.name


def machine() -> str:
    """The host and its CPU (how fast it runs is recorded per run: runs.at_start)."""
    cpus = os.cpu_count()
    return (
        f"{platform.node()} {platform.machine()} {cpus} cpu ({cpu_model()}), "
        f"Python {platform.python_version()}"
    )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for(url: str, deadline_s: float, poll_s: float = 0.02) -> float:
    """Poll ``url`` until 200; return when it first answered, or raise on the deadline."""
    end = time.monotonic() + deadline_s
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < end:
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            time.sleep(poll_s)
    raise TimeoutError(f"{url} not ready within {deadline_s}s")


# Every load generator connects from loopback: the per-address admission limits, meant
# for the internet, would refuse most of a thousand clients opening at once.
BENCH_ENV = {
    "MARKETCAST_LOG_LEVEL": "WARNING",
    "MARKETCAST_MAX_CONNECTIONS_PER_IP": "1000000",
    "MARKETCAST_MAX_HANDSHAKES_PER_S": "100000",
    "MARKETCAST_MAX_HANDSHAKES_PER_IP_PER_S": "100000",
}


@contextmanager
def process(
    args: Sequence[str | Path], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` for the duration of the block; terminate it (then kill) on the way out."""
    child = subprocess.Popen(
        [str(a) for a in args],
        env=os.environ | BENCH_ENV | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


@contextmanager
def simulator(port: int, faults: str = "", speed: float = 1.0) -> Iterator[str]:
    """``marketcast sim`` on ``port``; yields its ``http://`` origin once it answers."""
    args: list[str | Path] = [BIN / "marketcast", "sim", "--sim-port", str(port)]
    args += ["--speed", str(speed)]
    if faults:
        args += ["--faults", faults]
    with process(args):
        origin = f"http://127.0.0.1:{port}"
        wait_for(f"{origin}/api/v3/ping", 30)
        yield origin


def hub_args(port: int, sim_origin: str, symbols: Sequence[str], *extra: str) -> list[str]:
    """``marketcast serve`` against the simulator at ``sim_origin``."""
    ws = sim_origin.replace("http://", "ws://", 1)
    return [
        str(BIN / "marketcast"),
        "serve",
        "--port",
        str(port),
        "--rest-base",
        sim_origin,
        "--ws-base",
        ws,
        "--futures-rest-base",
        sim_origin,
        "--futures-ws-base",
        ws,
        "--symbols",
        ",".join(symbols),
        *extra,
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")
