"""Acceptance (issue: Redis store): a hub restarted on an existing Redis resumes from its
last stored candle and fetches only what it missed, not a full bootstrap."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from marketcast.api.app import create_app
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.follow import ChartSeries
from support.redis_server import redis_url
from support.servers import hub_settings, serve_app, wait_ready
from support.truth import assert_equals_truth

__all__ = ["redis_url"]

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.timeout(120)]

TOPICS = (("BTCUSDT", "1m"), ("ETHUSDT", "1m"), ("BTCUSDT", "5m"))


async def minutes(sim: SimExchange, count: int) -> None:
    target = sim.clock.now_ms() + count * 60_000
    while sim.clock.now_ms() < target:
        await asyncio.sleep(0.05)


def requests_per_topic(sim: SimExchange, since: Counter[tuple[str, str, str]]) -> dict[str, int]:
    """``/klines`` requests per topic made since the ``since`` snapshot of the counters."""
    made = sim.stats.klines_requests - since
    return {f"{s}:{i}": made[("/api/v3/klines", s, i)] for s, i in TOPICS}


async def test_restart_on_existing_redis_fills_only_the_missing_range(redis_url: str) -> None:
    config = SimConfig(seed=4, start_ms=1_780_272_000_000, speed=60.0, push_interval_s=0.2)
    async with SimExchange(config) as sim:
        settings = hub_settings(
            sim,
            store="redis",
            redis_url=redis_url,
            symbols=("BTCUSDT", "ETHUSDT"),
            intervals=("1m", "5m"),
            buffer_size=2500,  # three REST pages per topic for a full bootstrap
            feeds=(),  # candles only: no books, tapes or liquidations to run
        )
        async with serve_app(create_app(settings, simulated=True)) as http:
            await wait_ready(http)
        first = requests_per_topic(sim, Counter())
        assert all(first[f"{s}:{i}"] >= 3 for s, i in TOPICS), first

        await minutes(sim, 5)  # the hub is down while five 1m candles close

        before = Counter(sim.stats.klines_requests)
        async with serve_app(create_app(settings, simulated=True)) as http:
            await wait_ready(http)
            await minutes(sim, 1)
            resumed = requests_per_topic(sim, before)
            async with httpx.AsyncClient(base_url=http) as client:
                status = (await client.get("/streaming/status")).json()
                series = {}
                for symbol, code in TOPICS:
                    body = (await client.get(f"/candles/{symbol}/{code}?limit=2500")).json()
                    series[(symbol, code)] = body["candles"]
        print(f"\nklines requests: first start {first}, after restart {resumed}")
        # One resync page per topic (forward from the last stored candle), not three.
        assert all(resumed[f"{s}:{i}"] == 1 for s, i in TOPICS), resumed
        assert all(t["continuous"] for t in status["topics"])
        for (symbol, code), rows in series.items():
            assert len(rows) == 2500
            chart = ChartSeries()
            for row in rows:
                chart.apply(row)
            assert_equals_truth(chart, sim, symbol, Interval.parse(code))


async def test_a_restarted_hub_serves_stored_candles_before_exchange_info_loads(
    redis_url: str,
) -> None:
    config = SimConfig(seed=6, start_ms=1_780_272_000_000, speed=60.0, push_interval_s=0.2)
    async with SimExchange(config) as sim:
        settings = hub_settings(
            sim,
            store="redis",
            redis_url=redis_url,
            symbols=("BTCUSDT",),
            intervals=("1m",),
            feeds=(),
        )
        async with serve_app(create_app(settings, simulated=True)) as http:
            await wait_ready(http)
        sim.faults.rest_errors(503, count=10_000)  # the exchange's REST is down
        async with (
            serve_app(create_app(settings, simulated=True)) as http,
            httpx.AsyncClient(base_url=http) as client,
        ):
            stored = await client.get("/candles/BTCUSDT/1m?limit=300")
            assert (await client.get("/ready")).status_code == 503  # not synced yet
            other = await client.get("/candles/ETHUSDT/1m")
            sim.faults.clear_rest_errors()
            await wait_ready(http, timeout=60)
            synced = (await client.get("/candles/BTCUSDT/1m?limit=300")).json()["candles"]
    assert stored.status_code == 200
    rows = stored.json()["candles"]
    assert len(rows) == 300
    # What it served then is the history it holds once synced (the newest may have formed).
    by_time = {row["time"]: row for row in synced}
    common = [row for row in rows[:-1] if row["time"] in by_time]
    assert len(common) > 200
    assert all(by_time[row["time"]] == row for row in common)
    # A symbol the store never held cannot be known before the listing: retry later.
    assert other.status_code == 503
    assert other.json()["code"] == "not_ready"
