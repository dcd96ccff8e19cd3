"""The simulated exchange as a benchmark runs it: clock on wall time, kline push rate set.

``marketcast sim`` floors its start to the minute, which puts the virtual clock up to a
minute behind the wall clock. Here the virtual clock is set to the wall clock's ms once the
simulator is up (building the tape takes a while), so the exchange's event time ``E`` and
a client's ``time.time()`` are the same clock and their difference is the end-to-end
latency. Binance's REST weight limit (6000 a minute, spot) is enforced as by default.

    .venv/bin/python bench/sim_process.py PORT PUSH_S [--symbols N] [--faults F] [--stagger]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from marketcast.exchanges.sim import FaultSchedule, SimConfig, SimExchange
from marketcast.exchanges.sim.truth.symbols import LISTED_SYMBOLS


def symbols(count: int) -> tuple[str, ...]:
    """The catalogue first, then made-up ``<BASE>USDT`` listings (the simulator lists any)."""
    extra = tuple(f"X{n:04d}USDT" for n in range(max(0, count - len(LISTED_SYMBOLS))))
    return (*LISTED_SYMBOLS, *extra)[: max(count, len(LISTED_SYMBOLS))]


async def serve(config: SimConfig, port: int) -> None:
    async with SimExchange(config, "127.0.0.1", port) as sim:
        behind_ms = int(time.time() * 1000) - sim.clock.now_ms()
        if behind_ms > 0:
            sim.clock.advance(behind_ms)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("push_interval_s", type=float)
    parser.add_argument("--symbols", type=int, default=len(LISTED_SYMBOLS))
    parser.add_argument("--faults", default="")
    parser.add_argument(
        "--stagger", action="store_true", help="each kline stream pushes at its own phase"
    )
    args = parser.parse_args()
    config = SimConfig(
        symbols=symbols(args.symbols),
        start_ms=int(time.time() * 1000),
        push_interval_s=args.push_interval_s,
        faults=FaultSchedule.parse(args.faults),
        stagger_pushes=args.stagger,
    )
    uvloop.run(serve(config, args.port))


if __name__ == "__main__":
    main()
