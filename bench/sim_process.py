"""The simulated exchange as a benchmark runs it: clock on wall time, kline push rate set.

``marketcast sim`` floors its start to the minute, which puts the virtual clock up to a
minute behind the wall clock. Here the virtual clock is set to the wall clock's ms once the
simulator is up (building the tape takes a while), so the exchange's event time ``E`` and
a client's ``time.time()`` are the same clock and their difference is the end-to-end
latency.

    .venv/bin/python bench/sim_process.py PORT PUSH_INTERVAL_S
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop

from marketcast.exchanges.sim import SimConfig, SimExchange


async def serve(config: SimConfig, port: int) -> None:
    async with SimExchange(config, "127.0.0.1", port) as sim:
        behind_ms = int(time.time() * 1000) - sim.clock.now_ms()
        if behind_ms > 0:
            sim.clock.advance(behind_ms)
        await asyncio.Event().wait()


def main() -> None:
    port, push_interval_s = int(sys.argv[1]), float(sys.argv[2])
    config = SimConfig(
        start_ms=int(time.time() * 1000),
        push_interval_s=push_interval_s,
        # Bootstrap weight is not what these scenarios measure (cold start does).
        weight_limit_per_minute=1_000_000,
    )
    uvloop.run(serve(config, port))


if __name__ == "__main__":
    main()
