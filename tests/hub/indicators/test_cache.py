"""The indicator cache follows the store through the bus: live, gap fills and finalizes.

A real :class:`MemoryStore` and :class:`Bus` stand in for the hub; each test writes to the
store and publishes what changed, in the order :class:`TopicSync` does, and compares the
cache with TA-Lib over the series the store holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest
import pytest_asyncio
import talib
from numpy.typing import NDArray

from marketcast.domain.candles import Candle
from marketcast.domain.indicators import parse_indicators
from marketcast.domain.intervals import Interval
from marketcast.domain.signals import NotEnoughData
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded
from marketcast.exchanges.sim import GroundTruth, Tape
from marketcast.hub.candles.bus import Bus
from marketcast.hub.indicators.cache import IndicatorCache
from marketcast.hub.indicators.topic import MAX_TRACKED, TopicIndicators
from marketcast.store.memory import MemoryStore

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000
M1 = Interval.parse("1m")
TOPIC = Topic("BTCUSDT", M1)
TRUTH = GroundTruth(Tape(9, ["BTCUSDT"], START_MS))
HISTORY = TRUTH.klines("BTCUSDT", M1, START_MS - 600 * 60_000, START_MS - 60_000, START_MS)
SPECS = parse_indicators("ema20,sma50,rsi14,macd,bb20,atr14")
CAPACITY = 300


def forming(candle: Candle, trades: int = 1) -> Candle:
    """An earlier, still-forming version of ``candle``."""
    return candle._replace(
        close=candle.open, high=max(candle.open, candle.low), closed=False, trades=trades
    )


class Feed:
    """Writes to the store and publishes what changed, like the hub's sync worker."""

    def __init__(self, store: MemoryStore, bus: Bus) -> None:
        self.store, self.bus = store, bus

    async def put(self, *candles: Candle) -> None:
        for changed in await self.store.upsert_many(TOPIC, candles, now_ms=0):
            self.bus.publish(TOPIC, changed)


@pytest_asyncio.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore(CAPACITY)
    await store.replace(TOPIC, HISTORY[:250], now_ms=0)
    yield store
    await store.aclose()


@pytest_asyncio.fixture
async def bus() -> Bus:
    return Bus()


@pytest_asyncio.fixture
async def cache(store: MemoryStore, bus: Bus) -> AsyncIterator[IndicatorCache]:
    async with IndicatorCache(store, bus) as cache:
        yield cache


def reference(
    closes: NDArray[np.float64], highs: NDArray[np.float64], lows: NDArray[np.float64]
) -> dict[str, list[NDArray[np.float64]]]:
    return {
        "ema20": [talib.EMA(closes, 20)],
        "sma50": [talib.SMA(closes, 50)],
        "rsi14": [talib.RSI(closes, 14)],
        "macd": list(talib.MACD(closes, 12, 26, 9)),
        "bb20": list(talib.BBANDS(closes, 20, 2.0, 2.0)),
        "atr14": [talib.ATR(highs, lows, closes, 14)],
    }


def assert_equals_talib(state: TopicIndicators, series: Sequence[Candle]) -> None:
    """The cache's points equal TA-Lib run over ``series`` (from the cache's origin on),
    1e-9 relative (MACD relative to the price); the forming candle's too."""
    closes = np.array([c.close for c in series])
    expected = reference(
        closes, np.array([c.high for c in series]), np.array([c.low for c in series])
    )
    times = [c.open_time for c in series]
    scale = float(np.mean(closes))
    for spec in SPECS:
        points = state.series(spec, CAPACITY)
        assert [t for t, _ in points] == times[-len(points) :]
        offset = len(series) - len(points)
        for field, column in enumerate(expected[spec.name]):
            for i, (_, value) in enumerate(points):
                want = column[offset + i]
                if np.isnan(want):
                    continue
                got = value[field]
                assert got is not None, f"{spec} undefined at {i}"
                denominator = scale if spec.name == "macd" else abs(want)
                assert abs(got - want) <= 1e-9 * denominator, f"{spec}[{field}] at {i}"


async def test_first_use_loads_the_stored_window(cache: IndicatorCache) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    assert list(state.candles) == HISTORY[:250]
    assert_equals_talib(state, HISTORY[:250])


async def test_live_updates_extend_the_series_and_forming_values_are_peeked(
    cache: IndicatorCache, store: MemoryStore, bus: Bus
) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    feed = Feed(store, bus)
    for index in range(250, 280):
        await feed.put(forming(HISTORY[index], 1))
        await feed.put(forming(HISTORY[index], 2))
        assert state.forming == forming(HISTORY[index], 2)
        assert_equals_talib(state, [*HISTORY[:index], state.forming])
        await feed.put(HISTORY[index])
    assert state.forming is None
    assert_equals_talib(state, HISTORY[:280])


async def test_gap_fills_and_finalizes_keep_the_values_exact(
    cache: IndicatorCache, store: MemoryStore, bus: Bus
) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    feed = Feed(store, bus)
    await feed.put(forming(HISTORY[250]))
    # The stream missed candles: the sync finalizes the stale tail and fills the gap from
    # REST (closed, in order) before storing the live update that revealed it.
    await feed.put(*HISTORY[250:262])
    await feed.put(forming(HISTORY[262]))
    assert_equals_talib(state, [*HISTORY[:262], state.forming or HISTORY[262]])
    await feed.put(HISTORY[262])
    assert_equals_talib(state, HISTORY[:263])


async def test_a_changed_closed_candle_rebuilds_from_the_store(
    cache: IndicatorCache, store: MemoryStore, bus: Bus
) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    feed = Feed(store, bus)
    corrected = HISTORY[240]._replace(
        close=HISTORY[240].close * 1.01, high=HISTORY[240].high * 1.01
    )
    await feed.put(corrected, *HISTORY[250:255])  # the later ones arrive during the rebuild
    state = await cache.topic(TOPIC)
    series = [*HISTORY[:240], corrected, *HISTORY[241:255]]
    assert list(state.candles) == series
    assert_equals_talib(state, series)


async def test_a_replayed_candle_changes_nothing(
    cache: IndicatorCache, store: MemoryStore, bus: Bus
) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    heard: list[Candle] = []
    unwatch = cache.watch(TOPIC, lambda _, candle: heard.append(candle))
    bus.publish(TOPIC, HISTORY[249])  # a resync re-publishing what was consumed
    bus.publish(TOPIC, HISTORY[10])
    assert heard == []
    assert state is await cache.topic(TOPIC)
    await Feed(store, bus).put(forming(HISTORY[250]), HISTORY[250])
    assert [c.closed for c in heard] == [False, True]
    unwatch()


async def test_the_window_rolls_but_values_keep_their_origin(
    cache: IndicatorCache, store: MemoryStore, bus: Bus
) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    feed = Feed(store, bus)
    for candle in HISTORY[250:]:
        await feed.put(candle)
    assert len(state.candles) == CAPACITY
    assert_equals_talib(state, HISTORY)


class GatedStore(MemoryStore):
    """A store whose reads wait for ``opened``: lets updates land during a load."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.opened = asyncio.Event()

    async def read(
        self, topic: Topic, *, limit: int, since: int | None = None, before: int | None = None
    ) -> list[Candle]:
        await self.opened.wait()
        return await super().read(topic, limit=limit, since=since, before=before)


async def test_updates_published_while_loading_are_applied_after_it() -> None:
    store, bus = GatedStore(CAPACITY), Bus()
    await store.replace(TOPIC, HISTORY[:250], now_ms=0)
    async with IndicatorCache(store, bus) as cache:
        loading = asyncio.create_task(cache.topic(TOPIC))
        await asyncio.sleep(0.01)
        # Published after the load subscribed, before it read the store: the read may
        # or may not include them, and neither may be lost nor applied twice.
        for candle in HISTORY[250:253]:
            bus.publish(TOPIC, candle)
        await store.upsert_many(TOPIC, HISTORY[250:252], now_ms=0)
        store.opened.set()
        state = await loading
        state.track(SPECS)
        assert list(state.candles) == HISTORY[:253]
        assert_equals_talib(state, HISTORY[:253])


async def test_signals_are_cached_until_the_next_close(
    cache: IndicatorCache, store: MemoryStore, bus: Bus
) -> None:
    state = await cache.topic(TOPIC)
    first = state.signals()
    await Feed(store, bus).put(forming(HISTORY[250]))
    assert state.signals() is first
    await Feed(store, bus).put(HISTORY[250])
    assert state.signals() is not first


async def test_signals_need_twenty_closed_candles(bus: Bus) -> None:
    store = MemoryStore(CAPACITY)
    await store.replace(TOPIC, [*HISTORY[:19], forming(HISTORY[19])], now_ms=0)
    async with IndicatorCache(store, bus) as cache:
        state = await cache.topic(TOPIC)
        with pytest.raises(NotEnoughData, match="have 19, need 20"):
            state.signals()


async def test_an_idle_topic_is_dropped_with_its_bus_subscription(
    store: MemoryStore, bus: Bus
) -> None:
    now = [0.0]
    async with IndicatorCache(store, bus, idle_s=60.0, clock=lambda: now[0]) as cache:
        await cache.topic(TOPIC)
        assert bus.subscriber_count(TOPIC) == 1
        feed = Feed(store, bus)
        now[0] = 30.0
        await feed.put(forming(HISTORY[250]))
        assert cache.topics == [TOPIC]
        now[0] = 100.0
        await feed.put(forming(HISTORY[250], 2))
        assert cache.topics == []
        assert bus.subscriber_count(TOPIC) == 0
        state = await cache.topic(TOPIC)  # used again: loaded afresh
        assert state.forming == forming(HISTORY[250], 2)


async def test_a_watched_topic_is_never_idle(store: MemoryStore, bus: Bus) -> None:
    now = [0.0]
    async with IndicatorCache(store, bus, idle_s=60.0, clock=lambda: now[0]) as cache:
        await cache.topic(TOPIC)
        unwatch = cache.watch(TOPIC, lambda *_: None)
        now[0] = 1000.0
        bus.publish(TOPIC, forming(HISTORY[250]))
        assert cache.topics == [TOPIC]
        unwatch()
    assert bus.subscriber_count(TOPIC) == 0


async def test_invalidate_rebuilds_history_replaced_without_publishing(
    cache: IndicatorCache, store: MemoryStore
) -> None:
    await cache.topic(TOPIC)
    await store.replace(TOPIC, HISTORY[300:500], now_ms=0)  # e.g. a topic bootstrapped anew
    cache.invalidate(TOPIC)
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    assert list(state.candles) == HISTORY[300:500]
    assert_equals_talib(state, HISTORY[300:500])


async def test_tracked_indicators_are_bounded_and_rebuilt_on_demand(cache: IndicatorCache) -> None:
    state = await cache.topic(TOPIC)
    state.track(SPECS)
    state.track(parse_indicators(",".join(f"ema{n}" for n in range(2, 18))))
    state.track(parse_indicators(",".join(f"sma{n}" for n in range(2, 18))))
    assert_equals_talib(state, HISTORY[:250])  # evicted ones come back, warmed up again


def test_watched_indicators_are_never_evicted_and_the_cap_is_a_clear_error() -> None:
    state = TopicIndicators(Topic.of("BTCUSDT", "1m"), capacity=50)
    half = MAX_TRACKED // 2  # one request names at most 16: two watchers fill the cap
    watched = parse_indicators(",".join(f"sma{n}" for n in range(2, 2 + half)))
    watched += parse_indicators(",".join(f"ema{n}" for n in range(2, 2 + half)))
    state.pin(watched[:half])
    state.pin(watched[half:])
    with pytest.raises(CapacityExceeded, match="watched indicators"):
        state.track(parse_indicators("rsi14"))
    state.unpin(watched[:1])
    state.track(parse_indicators("rsi14"))  # the unwatched one makes room
    assert state.series(watched[-1], limit=1) is not None
