"""Cold start: seconds from launching ``marketcast serve`` until ``/ready`` answers 200.

The simulated exchange runs as its own process (``marketcast sim``), optionally with
extra REST latency, and the hub bootstraps N symbols x 6 intervals x 1000 candles from it
through the real Binance adapter. Loopback only; every wait is bounded.

    .venv/bin/python bench/cold_start.py --symbols 10 --latency 0.05 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from marketcast.exchanges.sim import LISTED_SYMBOLS
from procs import RESULTS, free_port, hub_args, machine, process, simulator, wait_for

SYMBOLS = LISTED_SYMBOLS  # the ten defaults first


def one_run(symbols: int, latency: float) -> float:
    sim_port, hub_port = free_port(), free_port()
    faults = f"rest_latency:{latency}@0s" if latency else ""
    with simulator(sim_port, faults) as sim:
        started = time.monotonic()
        with process(hub_args(hub_port, sim, SYMBOLS[:symbols])):
            return wait_for(f"http://127.0.0.1:{hub_port}/ready", 120) - started


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
        "machine": machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"cold_start_{args.symbols * 6}topics_{int(args.latency * 1000)}ms.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    median = result["ready_s"]["median"]
    print(f"{args.symbols * 6} topics x 1000 candles: ready median {median:.2f}s -> {name}")


if __name__ == "__main__":
    main()
