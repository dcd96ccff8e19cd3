"""Ingest: CPU microseconds per kline message on one core, no clients.

The measured path is the hub's own: ``parse_ws_message`` on the raw combined-stream text
(as Binance sends it), ``TopicSync.offer`` with the event time, the sync worker's apply
(continuity check against the stored tail, store upsert) and ``Bus.publish``. Topics are
bootstrapped first (not measured) with 1000 candles each; the messages then continue
each series without a gap, so no REST call is due. The process's CPU seconds from the
first message to the last stored candle, over the messages, give the cost of one (wall
time gives the rate, which a shared machine disturbs); the full-market CPU share is the
load (every topic pushing every ``--push-interval`` seconds, Binance spot: 2 s) times it.

    .venv/bin/python bench/ingest.py --symbols 400 --intervals 1m,5m,15m,1h --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
import uvloop

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.messages import KlineUpdate
from marketcast.exchanges.binance.parse import parse_ws_message, stream_name
from marketcast.hub.candles.bus import Bus, Published
from marketcast.hub.candles.sync import TopicSync
from marketcast.store.memory import MemoryStore
from procs import machine, save
from runs import at_start, describe, spread

START_MS = 1_780_272_000_000
BUFFER = 1000


class NoNewHistory:
    """The exchange's REST side for bootstrapped topics: nothing newer than the store.

    The sync asks once at start (its store already holds the topic); the messages never
    leave a gap, so it is not asked during the measured part.
    """

    def __init__(self) -> None:
        self.calls = 0

    async def klines(self, topic: Topic, **_: object) -> list[Candle]:
        self.calls += 1
        return []

    async def klines_range(
        self, topic: Topic, rng: TimeRange, *, closed_before: int | None
    ) -> list[Candle]:
        self.calls += 1
        return []

    async def latest_klines(self, topic: Topic, count: int) -> list[Candle]:
        self.calls += 1
        return []


def history(interval: Interval) -> list[Candle]:
    step = interval.nominal_ms
    rows = [
        Candle(START_MS + n * step, 1.0, 2.0, 0.5, 1.5, 10.0, 15.0, 5, True) for n in range(BUFFER)
    ]
    rows[-1] = rows[-1]._replace(closed=False)
    return rows


def kline_text(topic: Topic, open_time: int, trades: int, closed: bool, event_ms: int) -> bytes:
    step = topic.interval.nominal_ms
    price = f"{100 + trades % 7:.2f}"
    event = {
        "e": "kline",
        "E": event_ms,
        "s": topic.symbol,
        "k": {
            "t": open_time,
            "T": open_time + step - 1,
            "s": topic.symbol,
            "i": topic.interval.code,
            "f": 1,
            "L": 1 + trades,
            "o": "100.00",
            "c": price,
            "h": "107.00",
            "l": "99.00",
            "v": f"{trades * 0.5:.8f}",
            "n": trades,
            "x": closed,
            "q": f"{trades * 50.0:.8f}",
            "V": "0.00000000",
            "Q": "0.00000000",
            "B": "0",
        },
    }
    return orjson.dumps({"stream": stream_name(topic), "data": event})


def messages(topics: list[Topic], count: int, per_candle: int) -> list[bytes]:
    """``count`` messages round-robin over ``topics``: ``per_candle`` versions of the
    forming candle (the last one closing it), then the next candle, gap-free."""
    texts = []
    for number in range(count):
        topic = topics[number % len(topics)]
        round_ = number // len(topics)
        candle, version = divmod(round_, per_candle)
        open_time = START_MS + (BUFFER - 1 + candle) * topic.interval.nominal_ms
        closed = version == per_candle - 1
        texts.append(kline_text(topic, open_time, 6 + version, closed, START_MS + number))
    return texts


async def run(args: argparse.Namespace) -> dict[str, Any]:
    intervals = [Interval.parse(code) for code in args.intervals.split(",")]
    topics = [Topic(f"S{n:03d}USDT", i) for n in range(args.symbols) for i in intervals]
    store, bus, rest = MemoryStore(BUFFER), Bus(), NoNewHistory()
    texts = messages(topics, args.messages, args.per_candle)
    # Done when every topic has published the last version it was sent (versions sent
    # before a drain may be merged: the sync keeps the newest, as it does live).
    final: dict[Topic, tuple[int, int]] = {}
    for raw in texts:
        update = parse_ws_message(raw)
        assert isinstance(update, KlineUpdate)
        final[update.topic] = (update.candle.open_time, update.candle.trades)
    remaining, done, published = len(final), asyncio.Event(), 0

    def seen(event: Published) -> None:
        nonlocal remaining, published
        published += 1
        if (event.candle.open_time, event.candle.trades) == final[event.topic]:
            remaining -= 1
            if not remaining:
                done.set()

    syncs: dict[Topic, TopicSync] = {}
    for topic in topics:
        await store.replace(topic, history(topic.interval), now_ms=START_MS)
        syncs[topic] = TopicSync(topic, store, rest, bus.publish, lambda: START_MS)
        bus.subscribe(topic, seen)  # one subscriber: publishing does its real work
    workers = [asyncio.create_task(sync.run()) for sync in syncs.values()]
    await asyncio.gather(*(sync.ready.wait() for sync in syncs.values()))
    print(f"{len(topics)} topics bootstrapped; feeding {len(texts)} messages", flush=True)
    asked_before = rest.calls
    started = time.perf_counter()
    cpu_started = time.process_time()
    for number, raw in enumerate(texts, 1):
        message = parse_ws_message(raw)
        assert isinstance(message, KlineUpdate)
        syncs[message.topic].offer(message.candle, message.event_time)
        if number % 256 == 0:
            await asyncio.sleep(0)  # the stream reader yields between frames, as live
    await asyncio.wait_for(done.wait(), 600)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    assert rest.calls == asked_before, "a gap sent the sync to REST: the messages are wrong"
    rate = len(texts) / elapsed
    load = len(topics) / args.push_interval
    return {
        "topics": len(topics),
        "messages": len(texts),
        "published": published,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_message": round(cpu / len(texts) * 1e6, 2),
        "messages_per_s": round(rate),
        "full_market_messages_per_s": round(load),
        # CPU, not wall: what the full market costs a core however busy the machine is.
        "full_market_cpu_share": round(load * cpu / len(texts), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=400)
    parser.add_argument("--intervals", default="1m,5m,15m,1h")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--per-candle", type=int, default=20, help="pushes per candle")
    parser.add_argument("--push-interval", type=float, default=2.0, help="seconds (spot: 2)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for number in range(1, args.runs + 1):
        conditions = at_start()
        measured = uvloop.run(run(args)) | conditions
        runs.append(measured)
        print(
            f"run {number}/{args.runs}: {measured['cpu_us_per_message']} CPU-us per message, "
            f"{measured['messages_per_s']} messages/s",
            flush=True,
        )
    first = runs[0]
    result = {
        "scenario": "ingest",
        "topics": first["topics"],
        "messages": first["messages"],
        "cpu_us_per_message": spread([r["cpu_us_per_message"] for r in runs], 2),
        "messages_per_s": spread([r["messages_per_s"] for r in runs], 0),
        "full_market_messages_per_s": first["full_market_messages_per_s"],
        "full_market_cpu_share": spread([r["full_market_cpu_share"] for r in runs]),
        "runs": runs,
        "machine": machine(),
    }
    save("ingest", result)
    print(
        f"ingest: {describe(result['cpu_us_per_message'], 'CPU-us')} per kline message, "
        f"{describe(result['messages_per_s'], 'messages/s')} on one core; full market "
        f"{result['full_market_messages_per_s']} messages/s = "
        f"{describe(result['full_market_cpu_share'])} of a core -> bench/results/ingest.json"
    )


if __name__ == "__main__":
    main()
