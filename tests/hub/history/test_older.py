"""Older history against the simulated exchange's REST: a page is fetched once for every
request that wants it, a requester going away does not cancel it for the others, and a
failed fetch is every waiter's retryable error, tried again by the next request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from marketcast.domain.history_pages import page_of
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.errors import HistoryBusy
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.rest.spot import KLINES_PATH
from marketcast.hub.history.older import OlderHistory
from marketcast.store.pages import MemoryPages

pytestmark = pytest.mark.timeout(60)

M1 = Interval.parse("1m")
TOPIC = Topic("BTCUSDT", M1)
START_MS = 1_780_272_000_000
SIM = SimConfig(seed=3, symbols=("BTCUSDT",), start_ms=START_MS, speed=1.0)
# A page well inside the history, and its end as the buffer's edge would give it.
PAGE = page_of(M1, START_MS - 50 * 24 * 3_600_000)
CLOSED_THROUGH = START_MS - 3_600_000


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def requests(sim: SimExchange) -> int:
    return sim.stats.klines_requests[(KLINES_PATH, "BTCUSDT", "1m")]


async def test_a_requester_going_away_leaves_the_fetch_to_the_others() -> None:
    async with SimExchange(SIM) as sim, BinanceRest(sim.rest_base) as rest:
        history = OlderHistory(rest, MemoryPages(1 << 24), market="spot")
        await history.first_open(TOPIC)
        sim.faults.rest_latency(0.5)  # the page is still on its way when the first leaves
        first = asyncio.create_task(history.before(TOPIC, PAGE.last, 10, CLOSED_THROUGH))
        await until(lambda: history.fetches == 1)
        second = asyncio.create_task(history.before(TOPIC, PAGE.last, 10, CLOSED_THROUGH))
        first.cancel()
        answer = await second
        assert first.cancelled()
        assert len(answer.candles) == 10
        assert (history.fetches, requests(sim)) == (1, 2)  # the first-candle lookup + page


async def test_a_failed_fetch_fails_every_waiter_and_the_next_ask_fetches_again() -> None:
    async with SimExchange(SIM) as sim, BinanceRest(sim.rest_base) as rest:
        history = OlderHistory(rest, MemoryPages(1 << 24), market="spot")
        await history.first_open(TOPIC)
        sim.faults.rest_errors(503, count=1)
        asks = [history.before(TOPIC, PAGE.last, 10, CLOSED_THROUGH) for _ in range(5)]
        failed = await asyncio.gather(*asks, return_exceptions=True)
        assert all(isinstance(error, HistoryBusy) for error in failed), failed
        assert history.fetches == 1
        answer = await history.before(TOPIC, PAGE.last, 10, CLOSED_THROUGH)
        assert [c.open_time for c in answer.candles] == [
            PAGE.last - i * 60_000 for i in range(10, 0, -1)
        ]
        assert history.fetches == 2
