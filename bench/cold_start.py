"""Cold start: seconds from launching ``marketcast serve`` until ``/ready`` answers 200.

The simulated exchange runs as its own process (``bench/sim_process.py``, Binance's
weight limit of 6000 a minute enforced), optionally with extra REST latency, and the hub
bootstraps N symbols x 6 intervals x 1000 candles from it through the real Binance
adapter. Each run records the seconds to ``/ready``, the CPU seconds the hub spent by
then and the load average at its start. Loopback only; every wait is bounded.

    .venv/bin/python bench/cold_start.py --symbols 10 --latency 0.05 --runs 3
    .venv/bin/python bench/cold_start.py --symbols 167 --latency 0.05 --runs 1   # 1002 topics
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import marketcast
from procs import cpu_seconds, free_port, hub_args, machine, process, save, wait_for
from runs import at_start, describe, spread
from sim_process import symbols as sim_symbols


def one_run(symbols: int, latency: float) -> dict[str, Any]:
    """Seconds from launch to ``/ready``, and the CPU seconds the hub spent by then."""
    sim_port, hub_port = free_port(), free_port()
    faults = f"rest_latency:{latency}@0s" if latency else ""
    sim_cmd = [sys.executable, Path(__file__).parent / "sim_process.py", str(sim_port), "2"]
    with process([*sim_cmd, f"--symbols={symbols}", f"--faults={faults}"]):
        sim = f"http://127.0.0.1:{sim_port}"
        wait_for(f"{sim}/api/v3/ping", 60)
        conditions = at_start()
        started = time.monotonic()
        # The ten default symbols first, as a 60-topic deployment configures them.
        with process(hub_args(hub_port, sim, sim_symbols(symbols)[:symbols])) as hub:
            # Every 0.1 s: polling is requests the hub serves while it starts (at 50 Hz
            # they were a tenth of its CPU); a readiness probe asks far less often.
            ready = wait_for(f"http://127.0.0.1:{hub_port}/ready", 300, poll_s=0.1) - started
            return {
                "ready_s": round(ready, 3),
                "hub_cpu_s": round(cpu_seconds(hub.pid), 3),
                **conditions,
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.0, help="extra REST latency, s")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # A deployment runs compiled bytecode (pip compiles what it installs); an editable
    # checkout under PYTHONDONTWRITEBYTECODE would recompile every module on each start.
    package = Path(marketcast.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    runs = []
    for number in range(args.runs):
        measured = one_run(args.symbols, args.latency)
        runs.append(measured)
        print(
            f"run {number + 1}/{args.runs}: ready in {measured['ready_s']:.2f} s, "
            f"hub {measured['hub_cpu_s']:.2f} CPU-s",
            flush=True,
        )
    result = {
        "scenario": "cold_start",
        "topics": args.symbols * 6,
        "candles_per_topic": 1000,
        "rest_latency_s": args.latency,
        "ready_s": spread([r["ready_s"] for r in runs]),
        "hub_cpu_s_to_ready": spread([r["hub_cpu_s"] for r in runs]),
        "runs": runs,
        "machine": machine(),
    }
    name = save(f"cold_start_{args.symbols * 6}topics_{int(args.latency * 1000)}ms", result)
    print(
        f"{args.symbols * 6} topics x 1000 candles: ready {describe(result['ready_s'], 's')}, "
        f"hub {describe(result['hub_cpu_s_to_ready'], 'CPU-s')} -> {name}"
    )


if __name__ == "__main__":
    main()
