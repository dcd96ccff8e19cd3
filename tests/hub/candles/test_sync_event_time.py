"""A topic's sync worker publishes each pushed update with the exchange's event time.

Candles that came from REST (a gap fill) have no push behind them and say ``None``, so a
client never mistakes a backfilled candle for a fresh one.
"""

from __future__ import annotations

import asyncio

import pytest

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.hub.candles.sync import TopicSync
from marketcast.store.memory import MemoryStore

pytestmark = pytest.mark.timeout(30)

START_MS = 1_780_272_000_000  # 2026-06-01T00:00:00Z, a minute boundary
M1 = Interval.parse("1m")
TOPIC = Topic("BTCUSDT", M1)


async def test_pushed_updates_carry_their_event_time_and_fills_none() -> None:
    config = SimConfig(symbols=("BTCUSDT",), start_ms=START_MS, start_paused=True)
    published: list[tuple[Candle, int | None]] = []

    def publish(topic: Topic, candle: Candle, event_ms: int | None = None, /) -> None:
        assert topic == TOPIC
        published.append((candle, event_ms))

    async with SimExchange(config) as sim, BinanceRest(sim.rest_base) as rest:
        store = MemoryStore(capacity=50)
        sync = TopicSync(TOPIC, store, rest, publish, sim.clock.now_ms)
        worker = asyncio.create_task(sync.run())
        try:
            await asyncio.wait_for(sync.ready.wait(), 10)
            last = await store.last(TOPIC)
            assert last is not None
            # Three minutes later the stream pushes a forming candle: the two closed
            # candles in between are filled from REST first.
            sim.clock.advance(3 * 60_000 + 5_000)
            await asyncio.sleep(0)
            pushed_open = last.open_time + 3 * 60_000
            truth = (await rest.klines(TOPIC, start=pushed_open, limit=1))[0]
            event_ms = sim.clock.now_ms()
            sync.offer(truth._replace(closed=False), event_ms - 1)
            sync.offer(truth._replace(closed=False, trades=truth.trades + 1), event_ms)
            async with asyncio.timeout(10):
                while not any(c.open_time == pushed_open for c, _ in published):
                    await asyncio.sleep(0.01)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    by_time = {c.open_time: e for c, e in published}
    assert by_time[pushed_open] == event_ms  # the newest push of that candle
    filled = [t for t in by_time if t < pushed_open]
    assert filled
    assert all(by_time[t] is None for t in filled)
