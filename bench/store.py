"""Store throughput, memory vs Redis, side by side in one run.

Scenarios per backend, on one topic with a full buffer of ``--capacity`` candles:
  * ``tail``: live updates, i.e. the forming candle upserted again and again (each with
    more trades), a new candle every ``--per-candle`` updates (append + trim);
  * ``batch``: ``upsert_many`` of 100 closed candles (a gap fill);
  * ``read``: ``read(limit=capacity)``, what ``/candles?limit=1000`` costs the store.
Redis runs as a private ``redis-server`` on a loopback port with no persistence.

    .venv/bin/python bench/store.py --ops 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.store.interface import CandleStore
from marketcast.store.memory import MemoryStore
from marketcast.store.redis import RedisStore
from procs import free_port, machine, save

TOPIC = Topic.of("BTCUSDT", "1m")
STEP = 60_000


def candle(i: int, trades: int, closed: bool) -> Candle:
    price = 40_000 + (i % 500) * 0.25
    return Candle(i * STEP, price, price + 5, price - 5, price + 1, 12.5, 5e5, trades, closed)


async def rate(label: str, count: int, op: Callable[[int], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    for i in range(count):
        await op(i)
    per_s = count / (time.perf_counter() - started)
    print(f"  {label:<8} {per_s:>12,.0f} ops/s", flush=True)
    return per_s


async def run(store: CandleStore, capacity: int, ops: int, per_candle: int) -> dict[str, float]:
    await store.replace(TOPIC, [candle(i, 10, True) for i in range(capacity)], now_ms=0)
    base = capacity

    async def tail(i: int) -> None:
        index, update = base + i // per_candle, i % per_candle
        await store.upsert(TOPIC, candle(index, 10 + update, update == per_candle - 1), now_ms=i)

    async def batch(i: int) -> None:
        first = base + ops + i * 100
        closed = [candle(first + k, 10, True) for k in range(100)]
        await store.upsert_many(TOPIC, closed, now_ms=i)

    async def read(i: int) -> None:
        await store.read(TOPIC, limit=capacity)

    return {
        "tail_upsert_per_s": await rate("tail", ops, tail),
        "batch100_per_s": await rate("batch100", max(ops // 100, 20), batch),
        "read_full_per_s": await rate("read", max(ops // 20, 50), read),
    }


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: install Debian's redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    raise SystemExit("redis-server did not start")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--capacity", type=int, default=1000)
    parser.add_argument("--per-candle", type=int, default=30)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    print("memory")
    results["memory"] = await run(MemoryStore(args.capacity), args.capacity, args.ops, 30)
    process, url = start_redis()
    try:
        print("redis")
        async with RedisStore(url, capacity=args.capacity) as store:
            results["redis"] = await run(store, args.capacity, args.ops, args.per_candle)
    finally:
        process.terminate()
        process.wait(10)
    results["machine"] = machine()
    results["args"] = vars(args)
    save("store", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
