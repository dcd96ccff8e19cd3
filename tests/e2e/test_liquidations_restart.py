"""Acceptance: liquidation history and volume buckets survive a restart
with the Redis store, and agree with the simulator's ground truth for the time covered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import LIQUIDATION_TIMEFRAMES, Liquidation
from marketcast.exchanges.binance.markets import USDM
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.hub.liquidations.keeper import LiquidationKeeper
from marketcast.hub.symbol_feeds.running import FeedLimits
from marketcast.store.liquidations_redis import RedisLiquidationStore
from support.liquidations import recomputed, truth_liquidations
from support.redis_server import redis_url

__all__ = ["redis_url"]

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.timeout(120)]

SYMBOL = "BTCUSDT"
ALL_TIME = (0, 2**62)
CONFIG = SimConfig(seed=5, symbols=("BTCUSDT", "ETHUSDT"), futures_symbols=(SYMBOL,), speed=60.0)


@asynccontextmanager
async def node(sim: SimExchange, url: str) -> AsyncIterator[LiquidationKeeper]:
    """One node's liquidation feed: its own Redis connection, REST client and socket."""
    async with (
        RedisLiquidationStore(url, prefix="mc:") as store,
        BinanceRest(sim.rest_base, market=USDM) as rest,
        KlineStream(sim.ws_base + USDM.route("forceOrder"), market=USDM) as stream,
        LiquidationKeeper(
            catalog=rest,
            stream=stream,
            store=store,
            always=[SYMBOL],
            limits=FeedLimits(ready_timeout_s=30),
        ) as keeper,
    ):
        yield keeper


async def live(keeper: LiquidationKeeper, count: int) -> list[Liquidation]:
    got: list[Liquidation] = []
    enough = asyncio.Event()

    def listener(liquidation: Liquidation) -> None:
        got.append(liquidation)
        if len(got) >= count:
            enough.set()

    unsubscribe = keeper.watch(SYMBOL, listener)
    try:
        async with asyncio.timeout(60):
            await enough.wait()
    finally:
        unsubscribe()
    return got


def window(sim: SimExchange, liquidations: list[Liquidation]) -> list[Liquidation]:
    """The truth from the oldest to the newest of ``liquidations``: the time they cover."""
    times = [item.time_ms for item in liquidations]
    return truth_liquidations(sim, SYMBOL, min(times), max(times))


def assert_buckets_match(keeper: LiquidationKeeper, truth: list[Liquidation]) -> None:
    for code in LIQUIDATION_TIMEFRAMES:
        expected = recomputed(truth, code).range(*ALL_TIME)
        assert keeper.volume(SYMBOL, Interval.parse(code), *ALL_TIME) == expected, code


async def test_history_and_buckets_survive_a_restart_on_redis(redis_url: str) -> None:
    async with SimExchange(CONFIG) as sim:
        async with node(sim, redis_url) as first:
            release = await first.acquire(SYMBOL)
            before = await live(first, 10)
            release()
            # Nothing happens on the exchange while the node is down, so the second
            # node's stream covers everything after it comes up.
            sim.clock.pause()
        async with node(sim, redis_url) as second:
            release = await second.acquire(SYMBOL)
            restored = second.recent(SYMBOL, 500)
            assert len(restored) >= len(before)
            # The first node's live stream was gap-free from its first liquidation on.
            assert restored[::-1] == window(sim, restored)
            assert set(before) <= set(restored)
            assert_buckets_match(second, restored)

            sim.clock.resume()
            after = await live(second, 5)
            release()
            assert not set(after) & set(restored)  # stored ones are not announced again
            everything = second.recent(SYMBOL, 500)  # may hold a few more than ``after``
            since_restart = truth_liquidations(sim, SYMBOL, after[0].time_ms, everything[0].time_ms)
            truth = window(sim, restored) + since_restart
            assert everything[::-1] == truth
            assert_buckets_match(second, truth)
