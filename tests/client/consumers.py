"""What the end-to-end client tests share: consumers that keep their own copy from what a
stream yields, exactly as a user's program would, and waits on conditions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from marketcast.client import Candle, CandleStream, Reset, Trade, TradeStream
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimExchange
from support.follow import ChartSeries

M1 = Interval.parse("1m")


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def minutes(sim: SimExchange, count: float) -> None:
    """Let ``count`` virtual minutes pass on the simulator's clock."""
    target = sim.clock.now_ms() + count * 60_000
    await until(lambda: sim.clock.now_ms() >= target, timeout=60)


@dataclass
class CandleCopy:
    """Upserts every yielded candle by open time; clears on a reset."""

    rows: dict[int, Candle] = field(default_factory=dict)
    yielded: list[Candle] = field(default_factory=list)
    resets: list[Reset] = field(default_factory=list)

    async def consume(self, stream: CandleStream) -> None:
        async for event in stream:
            if isinstance(event, Reset):
                self.resets.append(event)
                self.rows.clear()
            else:
                self.yielded.append(event)
                self.rows[event.time] = event

    def newest_closed(self) -> int:
        return max((t for t, c in self.rows.items() if c.closed), default=0)

    def chart(self) -> ChartSeries:
        """As the shared truth check reads a series."""
        return ChartSeries(rows={t: asdict(c) for t, c in sorted(self.rows.items())})

    def closed_twice(self) -> list[int]:
        """Open times yielded closed more than once, or yielded again after closing."""
        finals: set[int] = set()
        repeats = []
        for candle in self.yielded:
            if candle.time in finals:
                repeats.append(candle.time)
            if candle.closed:
                finals.add(candle.time)
        return repeats


def caught_up(copy: CandleCopy, sim: SimExchange) -> bool:
    """The copy holds the final version of the candle before the forming one."""
    return copy.newest_closed() >= M1.floor(sim.clock.now_ms()) // 1000 - 60


@dataclass
class TradeCopy:
    trades: list[Trade] = field(default_factory=list)
    resets: list[Reset] = field(default_factory=list)

    async def consume(self, stream: TradeStream) -> None:
        async for event in stream:
            if isinstance(event, Reset):
                self.resets.append(event)
                self.trades.clear()
            else:
                self.trades.append(event)
