"""Scenario 4, REST: ``GET /candles/{s}/1m?limit=1000`` at 64 concurrent keep-alive
connections, against a Starlette endpoint returning the same bytes prebuilt, in one run.

Processes: the simulated exchange, the hub (``marketcast serve``, memory store, one
symbol) in front of it, the prebuilt-bytes server, and the load generator, each its own
process on loopback. The hub is measured first, then the ceiling, with the same client,
connection count and bounds; the result is the ratio of their request rates.

    .venv/bin/python bench/rest.py --seconds 10 --connections 64
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from httpload import LoadResult, load
from procs import RESULTS, free_port, hub_args, machine, process, simulator, wait_for

SYMBOL = "BTCUSDT"
PATH = f"/candles/{SYMBOL}/1m"
QUERY = "?limit=1000"


def measure(port: int, args: argparse.Namespace) -> LoadResult:
    # A short warm-up first: the first requests pay for imports and caches filling.
    load(port, PATH + QUERY, connections=args.connections, duration_s=1.0, max_requests=2000)
    return load(
        port,
        PATH + QUERY,
        connections=args.connections,
        duration_s=args.seconds,
        max_requests=args.max_requests,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    sim_port, hub_port, base_port = free_port(), free_port(), free_port()
    hub_cmd = ["--intervals", "1m"]
    with simulator(sim_port) as sim, process(hub_args(hub_port, sim, [SYMBOL], *hub_cmd)):
        wait_for(f"http://127.0.0.1:{hub_port}/ready", 120)
        body = httpx.get(f"http://127.0.0.1:{hub_port}{PATH}{QUERY}", timeout=10).content
        print(f"hub ready; one response is {len(body)} bytes; measuring the hub...", flush=True)
        hub = measure(hub_port, args)
        print(f"  hub: {hub.summary()}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".json") as prebuilt:
        Path(prebuilt.name).write_bytes(body)
        server: list[str | Path] = [sys.executable, Path(__file__).parent / "prebuilt_server.py"]
        with process([*server, str(base_port), PATH, prebuilt.name]):
            wait_for(f"http://127.0.0.1:{base_port}{PATH}", 30)
            print("measuring the prebuilt-bytes ceiling...", flush=True)
            ceiling = measure(base_port, args)
            print(f"  ceiling: {ceiling.summary()}", flush=True)
    return {
        "scenario": "rest_candles",
        "request": f"GET {PATH}{QUERY}",
        "connections": args.connections,
        "seconds": args.seconds,
        "body_bytes": len(body),
        "hub": hub.summary(),
        "prebuilt": ceiling.summary(),
        "ratio_rps": round(hub.rps / ceiling.rps, 3),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-requests", type=int, default=500_000)
    args = parser.parse_args()
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rest.json").write_text(json.dumps(result, indent=2))
    hub, ceiling = result["hub"], result["prebuilt"]
    print(
        f"/candles limit=1000 at {args.connections} connections: hub {hub['rps']} rps "
        f"(p99 {hub['p99_ms']} ms), prebuilt {ceiling['rps']} rps (p99 {ceiling['p99_ms']} ms), "
        f"ratio {result['ratio_rps']} -> bench/results/rest.json"
    )


if __name__ == "__main__":
    main()
