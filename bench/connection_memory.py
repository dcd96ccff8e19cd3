"""Where a hub's memory per WebSocket connection goes, by the line that allocated it.

The fan-out benchmark gives one figure (RSS growth per connection); this one says what it
is made of. The hub runs in this process on the simulator (10 symbols x 6 intervals,
candles only), ``bench/wsclients.py`` holds ``--clients`` connections with 5
subscriptions each from a process of its own (so none of the clients' memory is counted),
and ``tracemalloc`` compares the hub's Python heap before and after they connected. Each
row is bytes and objects per connection, charged to the innermost line of marketcast's
own code on the allocation's stack (the library line that did the allocating beside it),
so a row points at what to change. Then the objects the cyclic garbage collector tracks,
per connection and by type: a full collection walks every one of them with the event loop
stopped, so at 10,000 clients they decide how long such a pause lasts.

    .venv/bin/python bench/connection_memory.py --clients 300

The total is Python allocations only: it leaves out the allocator's slack and the kernel's
socket buffers, which the RSS figure of bench/fanout.py includes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import uvicorn

from marketcast.api.app import create_app
from marketcast.api.transport.server import server_config
from marketcast.config import DEFAULT_INTERVALS, DEFAULT_SYMBOLS, Settings
from marketcast.exchanges.sim import SimConfig, SimExchange
from procs import BENCH_ENV, free_port, wait_for

HERE = Path(__file__).parent
TOPICS = ",".join(f"{s}:{i}" for s in DEFAULT_SYMBOLS for i in DEFAULT_INTERVALS)
STACK_DEPTH = 25  # deep enough to reach marketcast's frames under uvicorn's and Starlette's
SETTLE_S = 3.0  # after the clients report their subscriptions, for queued work to drain


def site(trace: tracemalloc.StatisticDiff) -> str:
    """``own_line -> allocating_line``: marketcast's innermost frame and the frame that
    allocated (the same when marketcast allocated it); library-only stacks by their end."""
    frames = list(trace.traceback)  # oldest first

    def short(frame: tracemalloc.Frame) -> str:
        name = frame.filename.split("site-packages/")[-1].split("python3.11/")[-1]
        return f"{name.split('src/')[-1]}:{frame.lineno}"

    own = [frame for frame in frames if "/marketcast/" in frame.filename]
    if not own:
        return "(library) " + " <- ".join(short(frame) for frame in reversed(frames[-3:]))
    inner, allocating = short(own[-1]), short(frames[-1])
    return inner if inner == allocating else f"{inner} -> {allocating}"


async def measure(clients: int, rows: int) -> None:
    config = SimConfig(seed=1, symbols=DEFAULT_SYMBOLS)
    async with SimExchange(config) as sim:
        port = free_port()
        settings = Settings(
            rest_base=sim.rest_base,
            ws_base=sim.ws_base,
            # The simulator serves USD-M on the same origin: /ready waits for both markets.
            futures_rest_base=sim.rest_base,
            futures_ws_base=sim.ws_base,
            symbols=DEFAULT_SYMBOLS,
            intervals=DEFAULT_INTERVALS,
            feeds=(),
            port=port,
            host="127.0.0.1",
        )
        server = uvicorn.Server(server_config(create_app(settings, simulated=True), settings))
        serving = asyncio.create_task(server.serve())
        try:
            await asyncio.to_thread(wait_for, f"http://127.0.0.1:{port}/ready", 60)
            await asyncio.sleep(SETTLE_S)
            gc.collect()
            tracked_before = tracked_types()
            tracemalloc.start(STACK_DEPTH)
            before = tracemalloc.take_snapshot()
            held = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "wsclients.py"),
                "--url",
                f"ws://127.0.0.1:{port}/ws",
                "--clients",
                str(clients),
                "--topics",
                TOPICS,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert held.stdout is not None
            print((await held.stdout.readline()).decode().strip(), flush=True)
            await asyncio.sleep(SETTLE_S)
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            tracked = tracked_types()
            tracked.subtract(tracked_before)
            held.kill()
            await held.wait()
        finally:
            server.should_exit = True
            await serving
    report(after.compare_to(before, "traceback"), clients, rows)
    report_tracked(tracked, clients, rows)


def tracked_types() -> Counter[str]:
    """The objects the collector tracks now, by type (module-qualified where not builtin)."""
    found: Counter[str] = Counter()
    for thing in gc.get_objects():
        kind = type(thing)
        module = kind.__module__
        found[kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"] += 1
    return found


def report_tracked(tracked: Counter[str], clients: int, rows: int) -> None:
    total = sum(tracked.values())
    print(f"\n{total / clients:.0f} objects tracked by the collector per connection\n")
    print(f"{'objects':>8}  type")
    for kind, count in tracked.most_common(rows):
        print(f"{count / clients:8.1f}  {kind}")


def report(diffs: list[tracemalloc.StatisticDiff], clients: int, rows: int) -> None:
    size: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for diff in diffs:
        key = site(diff)
        size[key] += diff.size_diff
        count[key] += diff.count_diff
    total, objects = sum(size.values()), sum(count.values())
    print(f"{total / clients:,.0f} bytes and {objects / clients:.0f} objects per connection")
    # First by marketcast's line alone (what a layer costs in all), then in detail.
    layers: Counter[str] = Counter()
    for key, value in size.items():
        layers[key.split(" -> ")[0]] += value
    for title, table in (("by marketcast line", layers), ("by allocating line", size)):
        print(f"\n{title}\n{'bytes':>8}  where")
        for key, value in table.most_common(rows):
            print(f"{value / clients:8,.0f}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rows", type=int, default=30)
    args = parser.parse_args()
    # The limits every benchmark's hub runs with (loopback clients, opening at once).
    os.environ.update(BENCH_ENV)
    asyncio.run(measure(args.clients, args.rows))


if __name__ == "__main__":
    main()
