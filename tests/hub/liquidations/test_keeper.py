"""Liquidations in the hub: the per-symbol state, and the keeper against the simulator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis import exceptions as redis_errors

from marketcast.domain.intervals import DAY_MS, Interval
from marketcast.domain.liquidations import LIQUIDATION_TIMEFRAMES, Liquidation
from marketcast.errors import InvalidInterval, NotReady, UnknownSymbol
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.markets import USDM
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.exchanges.liquidation_api import LiquidationHistoryClient
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.hub.liquidations.holdings import (
    ExternalHistory,
    SeenKeys,
    SymbolLiquidations,
    history_start,
    seen_limit_for,
)
from marketcast.hub.liquidations.keeper import LiquidationKeeper
from marketcast.hub.symbol_feeds.running import FeedLimits
from marketcast.store.liquidations import LiquidationStore, MemoryLiquidationStore
from marketcast.store.liquidations_redis import RedisLiquidationStore
from support.liquidations import recomputed, truth_liquidations
from support.redis_server import RedisProcess, redis_process

__all__ = ["redis_process"]  # fixture

SYMBOL = "BTCUSDT"
T0 = 1_700_000_000_000
ALL_TIME = (0, 2**62)
PATIENT = FeedLimits(ready_timeout_s=20)


def liq(
    second: int, *, side: str = "SELL", quantity: str = "0.5", price: str = "100"
) -> Liquidation:
    return Liquidation(
        SYMBOL,
        "BUY" if side == "BUY" else "SELL",
        Decimal(quantity),
        Decimal(price),
        Decimal(price),
        T0 + second * 1000,
    )


# -- SymbolLiquidations (pure) ---------------------------------------------------------


def test_each_liquidation_counts_once_whichever_source_brings_it() -> None:
    state = SymbolLiquidations(SYMBOL)
    stored, external, live = [liq(1), liq(2)], [liq(2), liq(3)], [liq(3), liq(4), liq(4)]
    assert state.absorb(stored) == stored
    assert state.absorb(external) == [liq(3)]
    assert state.absorb(live) == [liq(4)]
    assert state.recent(10) == [liq(4), liq(3), liq(2), liq(1)]
    assert state.bucket(Interval.parse("1h"), T0)  # one bucket holds all four
    (hour,) = state.volume(Interval.parse("1h"), *ALL_TIME)
    assert hour.count == 4


def test_recent_is_newest_first_bounded_and_ordered_by_time_not_arrival() -> None:
    state = SymbolLiquidations(SYMBOL, keep_recent=3)
    state.absorb([liq(5), liq(1), liq(9), liq(3)])
    assert state.recent(10) == [liq(9), liq(5), liq(3)]
    assert state.recent(2) == [liq(9), liq(5)]
    assert state.recent(0) == []
    assert state.newest_time() == T0 + 9000


def test_the_live_bucket_is_the_one_holding_the_time() -> None:
    state = SymbolLiquidations(SYMBOL)
    state.absorb([liq(0, side="BUY", quantity="2", price="10"), liq(61)])
    minute = Interval.parse("1m")
    first = state.bucket(minute, minute.floor(T0) + 59_999)
    assert first is not None
    assert (first.open_ms, first.count, first.buy_volume) == (minute.floor(T0), 1, Decimal(20))
    assert state.bucket(minute, T0 + 3 * 60_000) is None


def test_timeframes_outside_the_seven_are_refused() -> None:
    state = SymbolLiquidations(SYMBOL)
    with pytest.raises(InvalidInterval, match="1d"):
        state.volume(Interval.parse("3m"), *ALL_TIME)


def test_seen_keys_forget_the_oldest_beyond_their_limit() -> None:
    seen = SeenKeys(2)
    for second in (1, 2, 3):
        seen.add(liq(second).key)
    assert (liq(1).key in seen, liq(2).key in seen, liq(3).key in seen) == (False, True, True)


def test_seen_keys_remember_at_least_what_the_store_keeps() -> None:
    assert seen_limit_for(1_000_000) >= 1_000_000
    assert seen_limit_for(50) >= 50


def test_history_starts_where_the_widest_buckets_end() -> None:
    newest = T0 + 5 * DAY_MS + 123
    start = history_start(newest, max_buckets=10)
    assert start == Interval.parse("1d").floor(newest) - 9 * DAY_MS
    day = SymbolLiquidations(SYMBOL, max_buckets=10).buckets["1d"]
    day.add_all([liq(0), Liquidation(SYMBOL, "BUY", Decimal(1), Decimal(1), Decimal(1), newest)])
    assert day.range(0, 2**62)[0].open_ms >= start  # nothing before it would be kept


liquidations = st.builds(
    liq,
    st.integers(0, 3 * 86_400),
    side=st.sampled_from(["BUY", "SELL"]),
    quantity=st.sampled_from(["0.5", "0.50", "1.25", "3"]),
    price=st.sampled_from(["100", "100.5", "99"]),
)


@given(items=st.lists(liquidations, max_size=40), chunk=st.integers(1, 7))
def test_buckets_equal_those_recomputed_from_the_unique_liquidations(
    items: list[Liquidation], chunk: int
) -> None:
    # Sources overlap: the same list arrives twice, in chunks, once reversed.
    state = SymbolLiquidations(SYMBOL)
    for source in (items, list(reversed(items))):
        for start in range(0, len(source), chunk):
            state.absorb(source[start : start + chunk])
    for code in LIQUIDATION_TIMEFRAMES:
        timeframe = Interval.parse(code)
        assert state.volume(timeframe, *ALL_TIME) == recomputed(items, code).range(*ALL_TIME)


# -- LiquidationKeeper against the simulator -------------------------------------------


@asynccontextmanager
async def keeper_on(
    sim: SimExchange,
    store: LiquidationStore,
    *,
    always: Sequence[str] = (),
    limits: FeedLimits = PATIENT,
    history: ExternalHistory | None = None,
    **options: Any,
) -> AsyncIterator[tuple[LiquidationKeeper, KlineStream]]:
    """A keeper reading the simulator's USD-M futures over real sockets."""
    async with (
        BinanceRest(sim.rest_base, market=USDM) as rest,
        KlineStream(sim.ws_base + USDM.route("forceOrder"), market=USDM) as stream,
        LiquidationKeeper(
            catalog=rest,
            stream=stream,
            store=store,
            history=history,
            always=always,
            limits=limits,
            **options,
        ) as keeper,
    ):
        yield keeper, stream


async def collect(keeper: LiquidationKeeper, symbol: str, count: int) -> list[Liquidation]:
    """The next ``count`` live liquidations of ``symbol``, as listeners get them."""
    got: list[Liquidation] = []
    arrived = asyncio.Event()

    def listener(liquidation: Liquidation) -> None:
        got.append(liquidation)
        if len(got) >= count:
            arrived.set()

    unsubscribe = keeper.watch(symbol, listener)
    try:
        async with asyncio.timeout(60):
            await arrived.wait()
    finally:
        unsubscribe()
    return got


def sim_config(**overrides: Any) -> SimConfig:
    settings: dict[str, Any] = {
        "symbols": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        "futures_symbols": ("BTCUSDT", "ETHUSDT"),
        "speed": 60.0,
    }
    return SimConfig(**(settings | overrides))


async def test_live_liquidations_and_buckets_match_the_simulator_truth() -> None:
    async with (
        SimExchange(sim_config()) as sim,
        keeper_on(sim, MemoryLiquidationStore()) as (
            keeper,
            _,
        ),
    ):
        release = await keeper.acquire("BTCUSDT")
        live = await collect(keeper, "BTCUSDT", 12)
        release()
        expected = truth_liquidations(sim, "BTCUSDT", live[0].time_ms, live[-1].time_ms)
        assert live == expected
        newest_first = keeper.recent("BTCUSDT", 500)
        first, last = live[0].time_ms, live[-1].time_ms
        assert [x for x in newest_first[::-1] if first <= x.time_ms <= last] == live
        for code in LIQUIDATION_TIMEFRAMES:
            timeframe = Interval.parse(code)
            assert keeper.volume("BTCUSDT", timeframe, *ALL_TIME) == recomputed(
                newest_first, code
            ).range(*ALL_TIME)


async def test_only_usdm_perpetuals_are_covered() -> None:
    async with (
        SimExchange(sim_config()) as sim,
        keeper_on(sim, MemoryLiquidationStore()) as (
            keeper,
            _,
        ),
    ):
        with pytest.raises(NotReady):  # not "no perpetual": nothing is known before the catalog
            keeper.covers("BTCUSDT")
        release = await keeper.acquire("BTCUSDT")
        release()
        assert (keeper.covers("BTCUSDT"), keeper.covers("ETHUSDT")) == (True, True)
        assert not keeper.covers("SOLUSDT")  # spot only
        with pytest.raises(UnknownSymbol):
            await keeper.acquire("SOLUSDT")


async def test_stored_history_is_served_and_not_announced_again() -> None:
    store = MemoryLiquidationStore()
    old = [
        Liquidation("ETHUSDT", "SELL", Decimal("1.5"), Decimal(2000), Decimal(2001), 1_000 * n)
        for n in (1, 2)
    ]
    await store.add("ETHUSDT", old)
    async with SimExchange(sim_config()) as sim, keeper_on(sim, store) as (keeper, _):
        release = await keeper.acquire("ETHUSDT")
        assert keeper.recent("ETHUSDT", 500)[-2:] == old[::-1]
        live = await collect(keeper, "ETHUSDT", 2)
        release()
        assert not set(live) & set(old)
        async with asyncio.timeout(10):  # live ones are stored in the background
            while await store.recent("ETHUSDT", 500) != keeper.recent("ETHUSDT", 500):
                await asyncio.sleep(0.02)


async def test_an_idle_on_demand_symbol_unsubscribes_its_stream() -> None:
    limits = FeedLimits(idle_s=0.2, ready_timeout_s=20)
    async with (
        SimExchange(sim_config()) as sim,
        keeper_on(sim, MemoryLiquidationStore(), always=["BTCUSDT"], limits=limits) as (
            keeper,
            stream,
        ),
    ):
        release = await keeper.acquire("ETHUSDT")
        assert stream.market_streams() == {"btcusdt@forceOrder", "ethusdt@forceOrder"}
        release()
        async with asyncio.timeout(10):
            while "ethusdt@forceOrder" in stream.market_streams():
                await asyncio.sleep(0.05)
        assert stream.market_streams() == {"btcusdt@forceOrder"}
        assert keeper.recent("ETHUSDT") == []
        assert list(keeper.status()["symbols"]) == ["BTCUSDT"]


async def test_the_catalog_is_retried_until_the_exchange_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with SimExchange(sim_config()) as sim:
        sim.faults.rest_errors(503, count=3)
        async with (
            BinanceRest(sim.rest_base, market=USDM, max_attempts=1) as rest,
            KlineStream(sim.ws_base + USDM.route("forceOrder"), market=USDM) as stream,
            LiquidationKeeper(
                catalog=rest,
                stream=stream,
                store=MemoryLiquidationStore(),
                limits=PATIENT,
                backoff=Backoff(base=0.05, cap=0.1),
            ) as keeper,
        ):
            release = await keeper.acquire("BTCUSDT")
            release()
            assert keeper.covers("BTCUSDT")
    # Retried three times, and said as one outage: when it began and when it ended.
    outage = [r.getMessage() for r in caplog.records if "exchange REST at" in r.getMessage()]
    assert len(outage) == 2, outage
    assert "(3 failures)" in outage[-1]


async def test_external_history_is_merged_once_and_deduplicated_with_live() -> None:
    store = MemoryLiquidationStore()
    limits = FeedLimits(idle_s=0.2, ready_timeout_s=20)
    async with (
        SimExchange(sim_config()) as sim,
        LiquidationHistoryClient(sim.rest_base) as client,
        keeper_on(
            sim, store, history=(history := GatedHistory(client, opened=True)), limits=limits
        ) as (keeper, stream),
    ):
        release = await keeper.acquire("BTCUSDT")
        await merged_history(keeper, "BTCUSDT")
        merged = [item for item in keeper.recent("BTCUSDT", 500) if item in history.returned]
        assert len(merged) == 50  # OrderFox's last 50
        async with asyncio.timeout(10):  # stored in the background
            while not set(merged) <= set(await store.recent("BTCUSDT", 500)):
                await asyncio.sleep(0.02)
        newest = merged[0].time_ms
        assert merged[::-1] == truth_liquidations(sim, "BTCUSDT", merged[-1].time_ms, newest)
        live = await collect(keeper, "BTCUSDT", 3)
        release()
        # Live and history may overlap (subscribed before the fetch): each is kept once.
        everything = keeper.recent("BTCUSDT", 500)
        assert len({item.key for item in everything}) == len(everything)
        assert set(everything) >= set(merged) | set(live)
        async with asyncio.timeout(10):  # idles out, then comes back on demand
            while stream.market_streams():
                await asyncio.sleep(0.05)
        release = await keeper.acquire("BTCUSDT")
        release()
        assert set(keeper.recent("BTCUSDT", 500)) >= set(everything)  # from the store
    assert sim.stats.rest_requests["/liquidation-history/BTCUSDT"] == 1


async def test_a_repeated_push_is_announced_and_counted_once() -> None:
    async with (
        SimExchange(sim_config()) as sim,
        keeper_on(sim, MemoryLiquidationStore()) as (
            keeper,
            _,
        ),
    ):
        release = await keeper.acquire("BTCUSDT")
        await collect(keeper, "BTCUSDT", 1)  # the connection is live
        assert sim.faults.duplicate(5) == 1
        live = await collect(keeper, "BTCUSDT", 6)
        release()
        assert len({item.key for item in live}) == len(live)
        assert keeper.stats.duplicates >= 5
        (day,) = keeper.volume("BTCUSDT", Interval.parse("1d"), *ALL_TIME)
        assert day.count == len(keeper.recent("BTCUSDT", 500))


@pytest.mark.redis
async def test_a_store_outage_loses_no_liquidation_once_the_store_is_back(
    redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisLiquidationStore(redis_process.url, timeout_s=1.0)
    async with store, SimExchange(sim_config()) as sim, keeper_on(sim, store) as (keeper, _):
        release = await keeper.acquire("BTCUSDT")
        await redis_process.kill()  # SIGKILL: no shutdown, as a crashed or OOM-killed Redis
        live = await collect(keeper, "BTCUSDT", 3)  # served live while the store is away
        assert set(keeper.recent("BTCUSDT", 500)) >= set(live)
        async with asyncio.timeout(30):  # each write waits for the socket timeout first
            while not keeper.status()["store_retries"]:
                await asyncio.sleep(0.05)
        assert "unavailable" in (keeper.status()["last_store_error"] or "")
        await redis_process.start()
        async with asyncio.timeout(60):  # written when the store returns, with backoff
            while keeper.status()["persist_pending"]:
                await asyncio.sleep(0.05)
        release()
        stored = await store.since("BTCUSDT", 0)
        status = keeper.status()
    assert set(stored) >= set(live)
    assert status["store_failures"] == 0
    assert status["persist_dropped"] == 0
    # An outage, not a bug: logged once when it began and once when it ended.
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    outage = [r.getMessage() for r in caplog.records if "redis at" in r.getMessage()]
    assert len(outage) == 2, outage


# -- failures and slowness of the store and the history service -----------------------


class FlakyStore(MemoryLiquidationStore):
    """Fails its first ``failing_writes`` writes and ``failing_loads`` reads, as Redis can."""

    def __init__(self, *, failing_writes: int = 0, failing_loads: int = 0) -> None:
        super().__init__()
        self.failing_writes, self.failing_loads = failing_writes, failing_loads
        self.stuck = asyncio.Event()
        self.stuck.set()

    async def add(self, symbol: str, liquidations: Sequence[Liquidation]) -> list[Liquidation]:
        await self.stuck.wait()
        if self.failing_writes:
            self.failing_writes -= 1
            raise redis_errors.ReadOnlyError(
                "READONLY You can't write against a read only replica."
            )
        return await super().add(symbol, liquidations)

    async def since(self, symbol: str, start_ms: int) -> list[Liquidation]:
        if self.failing_loads:
            self.failing_loads -= 1
            raise ValueError("a bug in decoding, or anything else")
        return await super().since(symbol, start_ms)


class GatedHistory:
    """An external history that answers only once :attr:`gate` is set."""

    def __init__(self, client: LiquidationHistoryClient, *, opened: bool = False) -> None:
        self.client, self.gate = client, asyncio.Event()
        self.returned: list[Liquidation] = []
        if opened:
            self.gate.set()

    async def recent(self, symbol: str, limit: int = 50) -> list[Liquidation]:
        await self.gate.wait()
        self.returned = await self.client.recent(symbol, limit)
        return self.returned


async def merged_history(keeper: LiquidationKeeper, symbol: str) -> None:
    async with asyncio.timeout(20):
        while not keeper.status()["symbols"][symbol]["history_merged"]:
            await asyncio.sleep(0.02)


async def test_failing_store_writes_cost_persistence_not_the_live_feed() -> None:
    store = FlakyStore(failing_writes=2)
    async with SimExchange(sim_config()) as sim, keeper_on(sim, store) as (keeper, _):
        release = await keeper.acquire("BTCUSDT")
        live = await collect(keeper, "BTCUSDT", 5)  # the pump survived both failures
        release()
        assert len({item.key for item in live}) == len(live)
        async with asyncio.timeout(10):  # all but the two failed writes are stored
            while len(set(live) - set(await store.since("BTCUSDT", 0))) > 2:
                await asyncio.sleep(0.02)
        status = keeper.status()
        assert status["store_failures"] == 2
        assert "READONLY" in status["last_store_error"]


async def test_a_failing_history_load_is_retried_until_it_succeeds() -> None:
    store = FlakyStore(failing_loads=2)
    old = [Liquidation("BTCUSDT", "SELL", Decimal(1), Decimal(9), Decimal(9), T0)]
    await store.add("BTCUSDT", old)
    fast = Backoff(base=0.05, cap=0.1)
    async with SimExchange(sim_config()) as sim, keeper_on(sim, store, backoff=fast) as (keeper, _):
        release = await keeper.acquire("BTCUSDT")
        release()
        assert old[0] in keeper.recent("BTCUSDT", 500)
        assert keeper.status()["load_failures"] == 2


async def test_listeners_do_not_wait_for_a_stuck_store() -> None:
    store = FlakyStore()
    store.stuck.clear()
    async with (
        SimExchange(sim_config()) as sim,
        keeper_on(sim, store, max_pending=2) as (keeper, _),
    ):
        release = await keeper.acquire("BTCUSDT")
        live = await collect(keeper, "BTCUSDT", 6)
        release()
        # One write is stuck in the store, two wait; the rest were not queued at all.
        assert keeper.status()["persist_dropped"] >= len(live) - 3
        store.stuck.set()


async def test_external_history_arrives_later_and_only_new_ones_are_announced() -> None:
    got: list[Liquidation] = []
    async with (
        SimExchange(sim_config()) as sim,
        LiquidationHistoryClient(sim.rest_base) as client,
        keeper_on(sim, MemoryLiquidationStore(), history=(history := GatedHistory(client))) as (
            keeper,
            _,
        ),
    ):
        keeper.watch("BTCUSDT", got.append)
        release = await keeper.acquire("BTCUSDT")  # the slow service does not hold this up
        assert not keeper.status()["symbols"]["BTCUSDT"]["history_merged"]
        history.gate.set()
        await merged_history(keeper, "BTCUSDT")
        release()
        assert len(history.returned) == 50
        assert set(history.returned) <= set(got)
        assert len({item.key for item in got}) == len(got)  # none announced twice


async def test_stored_history_beyond_the_old_seen_default_is_deduplicated() -> None:
    count = 21_000
    store = MemoryLiquidationStore(capacity=30_000)
    old = [
        Liquidation("ETHUSDT", "BUY", Decimal(1), Decimal(9), Decimal(9), T0 + n)
        for n in range(count)
    ]
    await store.add("ETHUSDT", old)
    async with SimExchange(sim_config()) as sim, keeper_on(sim, store) as (keeper, _):
        release = await keeper.acquire("ETHUSDT")
        release()
        assert keeper.status()["symbols"]["ETHUSDT"]["liquidations"] >= count


async def test_stored_history_older_than_the_buckets_hold_is_not_loaded() -> None:
    store = MemoryLiquidationStore()
    ancient = liq(0)
    newer = Liquidation(SYMBOL, "SELL", Decimal(1), Decimal(9), Decimal(9), T0 + 2000 * DAY_MS)
    await store.add(SYMBOL, [ancient, newer])
    async with SimExchange(sim_config()) as sim, keeper_on(sim, store) as (keeper, _):
        release = await keeper.acquire(SYMBOL)
        release()
        held = keeper.recent(SYMBOL, 500)
        assert newer in held
        assert ancient not in held
