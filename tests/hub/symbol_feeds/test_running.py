"""The per-symbol feed registry: reference counts, on-demand cap, idle stop, ready timeout."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from marketcast.errors import CapacityExceeded, NotReady, UnknownSymbol
from marketcast.hub.symbol_feeds.running import FeedLimits, SymbolFeeds, is_idle
from support.fakes import FakeClock


@dataclass
class Hooks:
    """Records the registry's calls; a symbol is ready once its event is set."""

    ready_at_start: bool = True
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    ready: dict[str, asyncio.Event] = field(default_factory=dict)

    async def start_symbol(self, symbol: str) -> asyncio.Event:
        if symbol == "NOPE":
            raise UnknownSymbol(symbol)
        self.started.append(symbol)
        event = asyncio.Event()
        if self.ready_at_start:
            event.set()
        self.ready[symbol] = event
        return event

    async def until_ready(self, symbol: str, state: asyncio.Event) -> None:
        await state.wait()

    async def stop_symbol(self, symbol: str, state: asyncio.Event) -> None:
        self.stopped.append(symbol)


LIMITS = FeedLimits(max_on_demand=2, idle_s=60.0, ready_timeout_s=5.0)


def test_idle_needs_no_holder_and_the_whole_grace_period() -> None:
    assert is_idle(0, 100.0, 160.0, 60.0)
    assert not is_idle(0, 100.0, 159.9, 60.0)
    assert not is_idle(1, 0.0, 1e9, 60.0)


async def test_always_symbols_start_with_the_registry_and_never_idle_out() -> None:
    hooks, clock = Hooks(), FakeClock()
    async with SymbolFeeds(hooks, always=["BTCUSDT"], limits=LIMITS, clock=clock) as feeds:
        assert hooks.started == ["BTCUSDT"]
        release = await feeds.acquire("BTCUSDT")
        release()
        clock.now += 10 * LIMITS.idle_s
        assert await feeds.sweep() == []
        assert feeds.state("BTCUSDT") is not None
        assert feeds.on_demand() == []
    assert hooks.stopped == ["BTCUSDT"]


async def test_on_demand_symbol_starts_once_and_stops_after_idling() -> None:
    hooks, clock = Hooks(), FakeClock()
    async with SymbolFeeds(hooks, limits=LIMITS, clock=clock) as feeds:
        first = await feeds.acquire("ETHUSDT")
        second = await feeds.acquire("ETHUSDT")
        assert hooks.started == ["ETHUSDT"]
        assert feeds.holders("ETHUSDT") == 2
        first()
        first()  # releasing twice must not take the other holder's hold
        assert feeds.holders("ETHUSDT") == 1
        clock.now += 10 * LIMITS.idle_s
        assert await feeds.sweep() == []  # still held
        second()
        clock.now += LIMITS.idle_s - 1
        assert await feeds.sweep() == []  # released, but not idle long enough
        clock.now += 1
        assert await feeds.sweep() == ["ETHUSDT"]
        assert hooks.stopped == ["ETHUSDT"]
        assert feeds.state("ETHUSDT") is None
        # Asked for again, it starts again.
        (await feeds.acquire("ETHUSDT"))()
        assert hooks.started == ["ETHUSDT", "ETHUSDT"]


async def test_on_demand_cap_refuses_a_new_symbol_but_not_a_running_one() -> None:
    hooks, clock = Hooks(), FakeClock()
    async with SymbolFeeds(hooks, always=["BTCUSDT"], limits=LIMITS, clock=clock) as feeds:
        await feeds.acquire("ETHUSDT")
        release_sol = await feeds.acquire("SOLUSDT")
        with pytest.raises(CapacityExceeded, match="limit reached"):
            await feeds.acquire("XRPUSDT")
        await feeds.acquire("ETHUSDT")  # running already: no new capacity needed
        await feeds.acquire("BTCUSDT")  # always symbols do not count
        release_sol()
        clock.now += LIMITS.idle_s
        assert await feeds.sweep() == ["SOLUSDT"]
        (await feeds.acquire("XRPUSDT"))()
        assert "XRPUSDT" not in hooks.stopped


async def test_a_failing_start_leaves_nothing_running() -> None:
    hooks = Hooks()
    async with SymbolFeeds(hooks, limits=LIMITS, clock=FakeClock()) as feeds:
        with pytest.raises(UnknownSymbol):
            await feeds.acquire("NOPE")
        assert feeds.running() == {}
        assert feeds.on_demand() == []


async def test_not_ready_in_time_raises_not_ready_and_gives_the_hold_back() -> None:
    hooks = Hooks(ready_at_start=False)
    limits = FeedLimits(max_on_demand=2, idle_s=60.0, ready_timeout_s=0.05)
    async with SymbolFeeds(hooks, limits=limits, clock=FakeClock()) as feeds:
        with pytest.raises(NotReady, match="not ready within"):
            await feeds.acquire("ETHUSDT")
        assert feeds.holders("ETHUSDT") == 0


async def test_waiters_return_when_the_symbol_becomes_ready() -> None:
    hooks = Hooks(ready_at_start=False)
    async with SymbolFeeds(hooks, limits=LIMITS, clock=FakeClock()) as feeds:
        waiters = [asyncio.create_task(feeds.acquire("ETHUSDT")) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert not any(w.done() for w in waiters)
        hooks.ready["ETHUSDT"].set()
        async with asyncio.timeout(5):
            releases = await asyncio.gather(*waiters)
        assert hooks.started == ["ETHUSDT"]
        assert feeds.holders("ETHUSDT") == 3
        for release in releases:
            release()


async def test_close_stops_every_symbol_and_cancels_owned_tasks() -> None:
    hooks = Hooks()
    feeds = SymbolFeeds(hooks, always=["BTCUSDT"], limits=LIMITS, clock=FakeClock())
    await feeds.start()
    await feeds.acquire("ETHUSDT")
    task = feeds.owner.start(asyncio.sleep(3600), name="per-symbol-task")
    await feeds.aclose()
    assert sorted(hooks.stopped) == ["BTCUSDT", "ETHUSDT"]
    assert task.cancelled()
    with pytest.raises(NotReady):
        await feeds.acquire("ETHUSDT")


async def test_the_janitor_stops_idle_symbols_on_its_own() -> None:
    hooks = Hooks()
    # A real clock and a tiny grace period: the janitor sweeps every idle_s / 2.
    limits = FeedLimits(max_on_demand=2, idle_s=0.02, ready_timeout_s=5.0)
    async with SymbolFeeds(hooks, limits=limits) as feeds:
        (await feeds.acquire("ETHUSDT"))()
        async with asyncio.timeout(5):
            while feeds.state("ETHUSDT") is not None:
                await asyncio.sleep(0.01)
        assert hooks.stopped == ["ETHUSDT"]


@dataclass
class GatedHooks(Hooks):
    """Hooks whose start or stop of chosen symbols hangs until their gate opens."""

    start_gates: dict[str, asyncio.Event] = field(default_factory=dict)
    stop_gates: dict[str, asyncio.Event] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    async def start_symbol(self, symbol: str) -> asyncio.Event:
        if symbol in self.start_gates:
            await self.start_gates[symbol].wait()
        self.events.append(f"start {symbol}")
        return await super().start_symbol(symbol)

    async def stop_symbol(self, symbol: str, state: asyncio.Event) -> None:
        self.events.append(f"stopping {symbol}")
        if symbol in self.stop_gates:
            await self.stop_gates[symbol].wait()
        self.events.append(f"stopped {symbol}")
        await super().stop_symbol(symbol, state)


async def test_a_running_symbol_is_acquired_while_another_symbol_starts_slowly() -> None:
    hooks, clock = GatedHooks(), FakeClock()
    hooks.start_gates["SOLUSDT"] = asyncio.Event()
    async with SymbolFeeds(hooks, always=["BTCUSDT"], limits=LIMITS, clock=clock) as feeds:
        slow = asyncio.create_task(feeds.acquire("SOLUSDT"))
        await asyncio.sleep(0.01)  # SOLUSDT's start is under way (and hangs)
        async with asyncio.timeout(1):
            (await feeds.acquire("BTCUSDT"))()
        assert not slow.done()
        hooks.start_gates["SOLUSDT"].set()
        async with asyncio.timeout(5):
            (await slow)()


async def test_acquires_do_not_wait_for_another_symbols_slow_stop() -> None:
    hooks, clock = GatedHooks(), FakeClock()
    hooks.stop_gates["ETHUSDT"] = asyncio.Event()
    async with SymbolFeeds(hooks, always=["BTCUSDT"], limits=LIMITS, clock=clock) as feeds:
        (await feeds.acquire("ETHUSDT"))()
        clock.now += LIMITS.idle_s
        sweep = asyncio.create_task(feeds.sweep())
        await asyncio.sleep(0.01)  # ETHUSDT's stop is under way (and hangs)
        assert hooks.events[-1] == "stopping ETHUSDT"
        async with asyncio.timeout(1):
            (await feeds.acquire("BTCUSDT"))()  # running
            (await feeds.acquire("SOLUSDT"))()  # new
        hooks.stop_gates["ETHUSDT"].set()
        async with asyncio.timeout(5):
            assert await sweep == ["ETHUSDT"]


async def test_a_symbol_being_stopped_restarts_only_after_its_stop_ended() -> None:
    hooks, clock = GatedHooks(), FakeClock()
    hooks.stop_gates["ETHUSDT"] = asyncio.Event()
    async with SymbolFeeds(hooks, limits=LIMITS, clock=clock) as feeds:
        (await feeds.acquire("ETHUSDT"))()
        clock.now += LIMITS.idle_s
        sweep = asyncio.create_task(feeds.sweep())
        await asyncio.sleep(0.01)
        again = asyncio.create_task(feeds.acquire("ETHUSDT"))
        await asyncio.sleep(0.01)
        # The stopping entry is gone from the map and must not be handed out again.
        assert not again.done()
        assert feeds.state("ETHUSDT") is None
        hooks.stop_gates["ETHUSDT"].set()
        async with asyncio.timeout(5):
            release = await again
            await sweep
        assert hooks.events == [
            "start ETHUSDT",
            "stopping ETHUSDT",
            "stopped ETHUSDT",
            "start ETHUSDT",
        ]
        assert feeds.holders("ETHUSDT") == 1
        release()


async def test_a_close_cut_short_by_its_deadline_still_cancels_owned_tasks() -> None:
    hooks = GatedHooks()
    hooks.stop_gates["BTCUSDT"] = asyncio.Event()  # never opens: a socket that will not close
    feeds = SymbolFeeds(hooks, always=["BTCUSDT", "ETHUSDT"], limits=LIMITS, clock=FakeClock())
    await feeds.start()
    task = feeds.owner.start(asyncio.sleep(3600), name="per-symbol-task")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await feeds.aclose()
    assert task.cancelled()
    janitors = [t for t in asyncio.all_tasks() if t.get_name().endswith("idle-janitor")]
    assert all(t.done() for t in janitors)


class FlakyClock(FakeClock):
    """Raises while ``failures`` is positive (once per call)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def __call__(self) -> float:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("clock bug")
        return super().__call__()


async def test_the_janitor_survives_a_failing_sweep() -> None:
    hooks, clock = Hooks(), FlakyClock()
    limits = FeedLimits(max_on_demand=2, idle_s=0.02, ready_timeout_s=5.0)
    async with SymbolFeeds(hooks, limits=limits, clock=clock) as feeds:
        (await feeds.acquire("ETHUSDT"))()
        clock.failures = 1  # the janitor's next sweep raises
        clock.now += 1
        async with asyncio.timeout(5):
            while feeds.state("ETHUSDT") is not None:
                await asyncio.sleep(0.01)
        assert clock.failures == 0
        assert hooks.stopped == ["ETHUSDT"]


class BarrierHooks(Hooks):
    """Each stop waits until every symbol's stop has begun: only concurrent stops end."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.barrier = asyncio.Barrier(count)

    async def stop_symbol(self, symbol: str, state: asyncio.Event) -> None:
        await self.barrier.wait()
        await super().stop_symbol(symbol, state)


async def test_close_stops_the_symbols_concurrently() -> None:
    # One after the other, the first stop would wait forever for the others to begin.
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    hooks = BarrierHooks(len(symbols))
    feeds = SymbolFeeds(hooks, always=symbols, limits=LIMITS)
    await feeds.start()
    async with asyncio.timeout(5):  # a deadlock detector, not a speed claim
        await feeds.aclose()
    assert sorted(hooks.stopped) == sorted(symbols)
