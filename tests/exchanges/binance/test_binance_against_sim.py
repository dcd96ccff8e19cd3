"""The Binance adapter against the simulated exchange, over real loopback sockets."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from marketcast.domain.candles import TimeRange
from marketcast.domain.topics import Topic
from marketcast.exchanges.binance import (
    Backoff,
    BinanceRest,
    Disconnected,
    KlineStream,
    KlineUpdate,
    Reconnected,
    StreamEvent,
)
from marketcast.exchanges.sim import DEFAULT_SYMBOLS, SimConfig, SimExchange

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

START_MS = 1_714_521_600_000  # 2024-05-01 00:00 UTC
BTC_1M = Topic.of("BTCUSDT", "1m")


def fast_sim() -> SimExchange:
    return SimExchange(SimConfig(start_ms=START_MS, speed=60, push_interval_s=0.1))


async def next_matching(
    events: AsyncIterator[StreamEvent], wanted: Callable[[StreamEvent], bool]
) -> list[StreamEvent]:
    """Events up to and including the first one ``wanted`` accepts."""
    seen: list[StreamEvent] = []
    async with asyncio.timeout(10):
        async for event in events:
            seen.append(event)
            if wanted(event):
                return seen
    raise AssertionError(f"stream ended; saw {seen}")


async def test_rest_history_matches_the_ground_truth() -> None:
    async with fast_sim() as sim, BinanceRest(sim.rest_base) as rest:
        sim.clock.pause()
        now = sim.clock.now_ms()
        info = await rest.exchange_info()
        assert set(DEFAULT_SYMBOLS) <= {s.symbol for s in info}
        rng = TimeRange(now - 1500 * 60_000, now - 60_000)
        candles = await rest.klines_range(BTC_1M, rng, closed_before=now)
        truth = sim.truth.klines("BTCUSDT", BTC_1M.interval, rng.first, rng.last, now)
        assert candles == truth
        latest = await rest.latest_klines(BTC_1M, 1200)
        assert latest[-1].open_time == BTC_1M.interval.floor(now)
        assert not latest[-1].closed
        assert latest[:-1] == sim.truth.klines(
            "BTCUSDT", BTC_1M.interval, latest[0].open_time, latest[-2].open_time, now
        )


async def test_rest_rides_out_a_simulated_429() -> None:
    async with fast_sim() as sim, BinanceRest(sim.rest_base) as rest:
        sim.faults.rest_errors(429, 1, retry_after=1)
        assert await rest.server_time() > START_MS
        assert rest.stats.rate_limited == 1
        assert rest.stats.weight_used_last is not None


async def test_stream_survives_drop_shutdown_and_garbage() -> None:
    backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(5))
    async with (
        fast_sim() as sim,
        KlineStream(sim.ws_base, backoff=backoff, data_timeout=3.0) as stream,
    ):
        await stream.set_topics([BTC_1M])
        events = stream.events()
        first = await next_matching(events, lambda e: isinstance(e, KlineUpdate))
        assert isinstance(first[-1], KlineUpdate)
        assert first[-1].topic == BTC_1M

        sim.faults.drop_connections()
        seen = await next_matching(events, lambda e: isinstance(e, Reconnected))
        assert any(isinstance(e, Disconnected) for e in seen)

        await next_matching(events, lambda e: isinstance(e, KlineUpdate))
        sim.faults.server_shutdown(grace_s=3.0)
        seen = await next_matching(events, lambda e: isinstance(e, Reconnected))
        assert not any(isinstance(e, Disconnected) for e in seen)

        await next_matching(events, lambda e: isinstance(e, KlineUpdate))
        sim.faults.malformed(2)
        async with asyncio.timeout(10):
            while stream.stats.malformed_frames < 2:
                await next_matching(events, lambda e: isinstance(e, KlineUpdate))
        assert stream.stats.reconnects == 2
