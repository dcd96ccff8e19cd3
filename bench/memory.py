"""Scenario 5, memory: bytes per stored candle and the process RSS at 1000 topics x 1000
candles in the embedded memory store.

Runs in a fresh interpreter so the RSS is this store's and not a previous scenario's.
Two measures: Python's own accounting of what the store holds (``tracemalloc``, after the
temporary candle objects are gone) and the growth of the process RSS (``/proc``).

    .venv/bin/python bench/memory.py --topics 1000 --candles 1000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc
from pathlib import Path

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.store.memory import MemoryStore
from procs import machine, save

INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")
START_MS = 1_780_272_000_000


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def series(interval: Interval, count: int, seed: int) -> list[Candle]:
    step = interval.nominal_ms
    p = 100.0 + seed
    return [
        Candle(START_MS + n * step, p, p + 1, p - 1, p + 0.5, 10.0 + n, 1e3, n, True)
        for n in range(count)
    ]


async def fill(store: MemoryStore, topics: int, candles: int, progress: int) -> None:
    for number in range(topics):
        interval = Interval.parse(INTERVALS[number % len(INTERVALS)])
        topic = Topic(f"S{number // len(INTERVALS):04d}USDT", interval)
        await store.replace(topic, series(interval, candles, number), now_ms=START_MS)
        if progress and (number + 1) % progress == 0:
            print(f"  {number + 1}/{topics} topics stored", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--candles", type=int, default=1000)
    args = parser.parse_args()
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    store = MemoryStore(capacity=args.candles)
    asyncio.run(fill(store, args.topics, args.candles, progress=max(1, args.topics // 5)))
    gc.collect()
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    rss_after = rss_bytes()
    stored = args.topics * args.candles
    result = {
        "scenario": "memory",
        "topics": args.topics,
        "candles_per_topic": args.candles,
        "stored_candles": stored,
        "bytes_per_candle_traced": round(held / stored, 1),
        "rss_mb": round(rss_after / 2**20, 1),
        "rss_growth_bytes_per_candle": round((rss_after - rss_before) / stored, 1),
        "machine": machine(),
    }
    assert store.capacity == args.candles  # keep the store alive until measured
    save("memory", result)
    print(
        f"{stored} candles: {result['bytes_per_candle_traced']} bytes/candle (traced), "
        f"RSS {result['rss_mb']} MB, RSS growth {result['rss_growth_bytes_per_candle']} "
        "bytes/candle -> bench/results/memory.json"
    )


if __name__ == "__main__":
    main()
