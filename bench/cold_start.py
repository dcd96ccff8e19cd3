"""Cold start: seconds from launching ``marketcast serve`` until ``/ready`` answers 200.

The simulated exchange runs as its own process (``marketcast sim``), optionally with
extra REST latency, and the hub bootstraps N symbols x 6 intervals x 1000 candles from it
through the real Binance adapter. Loopback only; every wait is bounded.

    .venv/bin/python bench/cold_start.py --symbols 10 --latency 0.05 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from marketcast.exchanges.sim import LISTED_SYMBOLS

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).parent / "results"
SYMBOLS = LISTED_SYMBOLS  # the ten defaults first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for(url: str, deadline_s: float) -> float:
    """Poll ``url`` until 200; return when it first answered, or raise on the deadline."""
    end = time.monotonic() + deadline_s
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < end:
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"{url} not ready within {deadline_s}s")


def one_run(symbols: int, latency: float) -> float:
    sim_port, hub_port = free_port(), free_port()
    faults = f"rest_latency:{latency}@0s" if latency else ""
    sim = subprocess.Popen(
        [BIN / "marketcast", "sim", "--sim-port", str(sim_port), "--faults", faults],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{sim_port}/api/v3/ping", 30)
        env = os.environ | {"MARKETCAST_LOG_LEVEL": "WARNING"}
        started = time.monotonic()
        hub = subprocess.Popen(
            [
                BIN / "marketcast",
                "serve",
                "--port",
                str(hub_port),
                "--rest-base",
                f"http://127.0.0.1:{sim_port}",
                "--ws-base",
                f"ws://127.0.0.1:{sim_port}",
                "--symbols",
                ",".join(SYMBOLS[:symbols]),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return wait_for(f"http://127.0.0.1:{hub_port}/ready", 120) - started
        finally:
            hub.terminate()
            hub.wait(10)
    finally:
        sim.terminate()
        sim.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.0, help="extra REST latency, s")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        seconds = one_run(args.symbols, args.latency)
        times.append(seconds)
        print(f"run {run + 1}/{args.runs}: ready in {seconds:.2f}s", flush=True)
    result = {
        "scenario": "cold_start",
        "topics": args.symbols * 6,
        "candles_per_topic": 1000,
        "rest_latency_s": args.latency,
        "ready_s": {"median": statistics.median(times), "min": min(times), "max": max(times)},
        "runs": times,
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu",
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"cold_start_{args.symbols * 6}topics_{int(args.latency * 1000)}ms.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    median = result["ready_s"]["median"]
    print(f"{args.symbols * 6} topics x 1000 candles: ready median {median:.2f}s -> {name}")


if __name__ == "__main__":
    main()
