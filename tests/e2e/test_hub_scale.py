"""Acceptance: demo-scale bootstrap, calendar intervals, on-demand topics."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from typing import Any

import httpx
import pytest

from marketcast.config import DEFAULT_INTERVALS, DEFAULT_SYMBOLS
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.servers import running_hub, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

START_MS = 1_780_272_000_000 + 37 * 60_000 + 12_345  # mid-candle, mid-day


def assert_topic_matches_truth(
    sim: SimExchange, symbol: str, interval: Interval, rows: list[dict[str, Any]]
) -> None:
    now = sim.clock.now_ms()
    truth = sim.truth.klines(symbol, interval, rows[0]["time"] * 1000, now, now)
    assert [c.time for c in truth] == [r["time"] for r in rows], f"{symbol} {interval}"
    for candle, row in zip(truth, rows, strict=True):
        want = (candle.open, candle.high, candle.low, candle.close, candle.volume, candle.closed)
        got = (row["open"], row["high"], row["low"], row["close"], row["volume"], row["closed"])
        assert got == want, f"{symbol} {interval} {candle.time}"


async def test_demo_scale_bootstrap_equals_ground_truth() -> None:
    """10 symbols x 6 intervals x 1000 candles, every candle equal to the exchange's."""
    config = SimConfig(seed=7, start_ms=START_MS, start_paused=True)
    started = time.monotonic()
    async with running_hub(
        config,
        symbols=DEFAULT_SYMBOLS,
        intervals=DEFAULT_INTERVALS,
        buffer_size=1000,
        feeds=(),  # candles only: no books, tapes or liquidations to run
    ) as hub:
        await wait_ready(hub.http, timeout=60)
        elapsed = time.monotonic() - started
        async with httpx.AsyncClient(base_url=hub.http) as client:
            for symbol in DEFAULT_SYMBOLS:
                for code in DEFAULT_INTERVALS:
                    response = await client.get(f"/candles/{symbol}/{code}?limit=1000")
                    rows = response.json()["candles"]
                    assert len(rows) == 1000
                    assert rows[-1]["closed"] is False  # the forming candle, not a stale one
                    assert_topic_matches_truth(hub.sim, symbol, Interval.parse(code), rows)
            status = (await client.get("/streaming/status")).json()
        assert all(t["continuous"] and t["count"] == 1000 for t in status["topics"])
        assert len(status["topics"]) == 60
        print(f"\n60 topics x 1000 candles ready {elapsed:.2f}s after start (sim in-process)")


async def test_calendar_and_multi_day_intervals_follow_the_exchange() -> None:
    config = SimConfig(seed=3, start_ms=START_MS, start_paused=True)
    codes = ("3d", "1w", "1M")
    async with running_hub(
        config, symbols=("BTCUSDT",), intervals=codes, buffer_size=40, feeds=()
    ) as hub:
        await wait_ready(hub.http)
        async with httpx.AsyncClient(base_url=hub.http) as client:
            for code in codes:
                rows = (await client.get(f"/candles/BTCUSDT/{code}?limit=40")).json()["candles"]
                interval = Interval.parse(code)
                assert_topic_matches_truth(hub.sim, "BTCUSDT", interval, rows)
                opens = [dt.datetime.fromtimestamp(r["time"], dt.UTC) for r in rows]
                if code == "1w":
                    assert {o.weekday() for o in opens} == {0}
                if code == "1M":
                    assert {o.day for o in opens} == {1}
                for earlier, later in itertools.pairwise(rows):
                    assert interval.next_open(earlier["time"] * 1000) == later["time"] * 1000


async def test_on_demand_symbols_start_are_capped_and_released_when_idle() -> None:
    config = SimConfig(seed=3, start_ms=START_MS, speed=60.0, push_interval_s=0.2)
    async with running_hub(
        config,
        symbols=("BTCUSDT",),
        intervals=("1m",),
        buffer_size=100,
        max_on_demand_topics=1,
        on_demand_idle_s=1.0,
        feeds=(),  # candles only: no books, tapes or liquidations to run
    ) as hub:
        await wait_ready(hub.http)
        async with httpx.AsyncClient(base_url=hub.http) as client:
            eth = await client.get("/candles/ETHUSDT/1m?limit=100")
            assert eth.status_code == 200
            assert len(eth.json()["candles"]) == 100
            refused = await client.get("/candles/SOLUSDT/1m")
            assert refused.status_code == 429
            assert refused.json()["code"] == "capacity_exceeded"

            def on_demand(status: dict[str, Any]) -> list[str]:
                return [t["topic"] for t in status["topics"] if t["on_demand"]]

            assert on_demand((await client.get("/streaming/status")).json()) == ["ETHUSDT:1m"]
            async with asyncio.timeout(20):
                while on_demand((await client.get("/streaming/status")).json()):
                    await asyncio.sleep(0.2)
            # The released slot is free again.
            assert (await client.get("/candles/SOLUSDT/1m")).status_code == 200
