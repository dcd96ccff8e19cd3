"""REST: ``GET /candles/{s}/1m?limit=N`` against the same bytes served prebuilt, side by side.

Processes: the simulated exchange, the hub (``marketcast serve``, memory store, one
symbol, a bearer token and a CORS allow-list configured, as a deployment runs it), one
prebuilt-bytes server per limit (a bare Starlette route returning the hub's body), and
the load generator, each its own process on loopback. Every request carries the token
and an allowed ``Origin``, to both servers. Each run measures, per limit, the hub and
then its reference with the same client, connection count and bounds; the ratio of their
request rates is taken per run, and the result is the median over runs with min and max,
with each server's CPU seconds per request and the load average at each run's start.

    .venv/bin/python bench/rest.py --seconds 10 --connections 64 --runs 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from httpload import LoadResult, load
from procs import cpu_seconds, free_port, hub_args, machine, process, save, simulator, wait_for
from runs import at_start, describe, spread

SYMBOL = "BTCUSDT"
PATH = f"/candles/{SYMBOL}/1m"
TOKEN = "bench-token"
ORIGIN = "https://charts.example"
HEADERS = (("Authorization", f"Bearer {TOKEN}"), ("Origin", ORIGIN))


def measure(port: int, pid: int, query: str, args: argparse.Namespace) -> dict[str, Any]:
    """One bounded load against ``port``: its summary, CPU per request and load at start."""
    conditions = at_start()
    cpu_before = cpu_seconds(pid)
    result: LoadResult = load(
        port,
        PATH + query,
        connections=args.connections,
        duration_s=args.seconds,
        max_requests=args.max_requests,
        headers=HEADERS,
    )
    cpu = cpu_seconds(pid) - cpu_before
    if result.errors:
        raise RuntimeError(f"{result.errors} requests to :{port}{PATH}{query} failed")
    return result.summary() | {
        "cpu_seconds": round(cpu, 2),
        "cpu_us_per_request": round(cpu / result.requests * 1e6, 1),
        **conditions,
    }


def warm_up(port: int, query: str, connections: int) -> None:
    load(
        port,
        PATH + query,
        connections=connections,
        duration_s=1.0,
        max_requests=2000,
        headers=HEADERS,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    limits = [int(limit) for limit in args.limits.split(",")]
    sim_port, hub_port = free_port(), free_port()
    hub_cmd = ["--intervals", "1m", "--auth-token", TOKEN, "--cors-origins", ORIGIN]
    with ExitStack() as stack:
        sim = stack.enter_context(simulator(sim_port))
        hub = stack.enter_context(process(hub_args(hub_port, sim, [SYMBOL], *hub_cmd)))
        wait_for(f"http://127.0.0.1:{hub_port}/ready", 120)
        prebuilt: dict[int, tuple[int, int]] = {}
        sizes: dict[int, int] = {}
        for limit in limits:
            url = f"http://127.0.0.1:{hub_port}{PATH}?limit={limit}"
            body = httpx.get(url, headers=dict(HEADERS), timeout=10).raise_for_status().content
            sizes[limit] = len(body)
            file = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".json"))
            Path(file.name).write_bytes(body)
            port = free_port()
            server = [sys.executable, str(Path(__file__).parent / "prebuilt_server.py")]
            child = stack.enter_context(process([*server, str(port), PATH, file.name]))
            wait_for(f"http://127.0.0.1:{port}{PATH}", 30)
            prebuilt[limit] = (port, child.pid)
        runs: dict[int, list[dict[str, Any]]] = {limit: [] for limit in limits}
        for number in range(1, args.runs + 1):
            for limit in limits:
                query = f"?limit={limit}"
                if number == 1:  # the first requests pay for imports and caches filling
                    for port in (hub_port, prebuilt[limit][0]):
                        warm_up(port, query, args.connections)
                measured_hub = measure(hub_port, hub.pid, query, args)
                reference = measure(*prebuilt[limit], query, args)
                ratio = measured_hub["rps"] / reference["rps"]
                runs[limit].append({"hub": measured_hub, "prebuilt": reference, "ratio": ratio})
                print(
                    f"run {number}/{args.runs} limit={limit}: hub {measured_hub['rps']} rps "
                    f"({measured_hub['cpu_us_per_request']} CPU-us/req), prebuilt "
                    f"{reference['rps']} rps ({reference['cpu_us_per_request']}), "
                    f"ratio {ratio:.3f}",
                    flush=True,
                )
    return {
        "scenario": "rest_candles",
        "request": f"GET {PATH}?limit=N with a bearer token and an allowed Origin",
        "connections": args.connections,
        "seconds_per_measurement": args.seconds,
        "limits": {
            str(limit): {
                "body_bytes": sizes[limit],
                "ratio_rps": spread([r["ratio"] for r in runs[limit]]),
                "hub_rps": spread([r["hub"]["rps"] for r in runs[limit]], 0),
                "prebuilt_rps": spread([r["prebuilt"]["rps"] for r in runs[limit]], 0),
                "hub_p99_ms": spread([r["hub"]["p99_ms"] for r in runs[limit]], 2),
                "prebuilt_p99_ms": spread([r["prebuilt"]["p99_ms"] for r in runs[limit]], 2),
                "hub_cpu_us_per_request": spread(
                    [r["hub"]["cpu_us_per_request"] for r in runs[limit]], 1
                ),
                "prebuilt_cpu_us_per_request": spread(
                    [r["prebuilt"]["cpu_us_per_request"] for r in runs[limit]], 1
                ),
                "runs": runs[limit],
            }
            for limit in limits
        },
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--limits", default="100,1000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=500_000)
    args = parser.parse_args()
    result = run(args)
    save("rest", result)
    for limit, figures in result["limits"].items():
        print(
            f"/candles limit={limit} at {args.connections} connections: hub/prebuilt "
            f"{describe(figures['ratio_rps'])}; hub {describe(figures['hub_rps'], 'rps')}, "
            f"{describe(figures['hub_cpu_us_per_request'], 'CPU-us/req')}; prebuilt "
            f"{describe(figures['prebuilt_rps'], 'rps')}, "
            f"{describe(figures['prebuilt_cpu_us_per_request'], 'CPU-us/req')}"
        )
    print("-> bench/results/rest.json")


if __name__ == "__main__":
    main()
