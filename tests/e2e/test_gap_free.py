"""Acceptance: a chart following the hub through upstream faults ends on the exact truth.

A client loads ``/candles`` then follows a WebSocket, applying messages by upsert on
open time as chart libraries do. Upstream, the simulator drops, stalls, duplicates and
corrupts frames, suppresses final updates, rate-limits the backfill and goes down
entirely. At the end the client's series must equal the simulator's ground truth: every
candle present (except those the exchange itself never had), every closed candle equal
to the exchange's final version, nothing stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.follow import (
    ChartSeries,
    Follower,
    load_rest,
    native_candles,
    smarttrade_candle,
)
from support.servers import Running, running_hub, wait_ready
from support.truth import assert_equals_truth

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

START_MS = 1_780_272_000_000  # 2026-06-01T00:00:00Z
M1 = Interval.parse("1m")
SYMBOL = "BTCUSDT"


def sim_config(**overrides: Any) -> SimConfig:
    base: dict[str, Any] = {
        "seed": 11,
        "symbols": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        "start_ms": START_MS,
        "speed": 60.0,
        "push_interval_s": 0.2,
    }
    return SimConfig(**(base | overrides))


async def minutes(sim: SimExchange, count: int) -> None:
    """Let ``count`` virtual minutes pass (about ``count`` real seconds at speed 60)."""
    target = sim.clock.now_ms() + count * 60_000
    while sim.clock.now_ms() < target:
        await asyncio.sleep(0.05)


async def settle(hub: Running, symbol: str, count: int = 2) -> None:
    """Let the exchange run ``count`` more minutes and the hub catch up after faults."""
    await minutes(hub.sim, count)
    async with httpx.AsyncClient(base_url=hub.http) as client, asyncio.timeout(30):
        while True:
            status = (await client.get("/streaming/status")).json()
            mine = [t for t in status["topics"] if t["symbol"] == symbol]
            now_open = M1.floor(hub.sim.clock.now_ms()) // 1000
            if all(t["continuous"] and t["last_time"] >= now_open - 60 for t in mine):
                return
            await asyncio.sleep(0.1)


def assert_never_reopened(received: list[dict[str, Any]], extract: Any) -> None:
    """Once a candle arrived closed, no later message may show it forming or different."""
    finals: dict[int, dict[str, Any]] = {}
    for message in received:
        row = extract(message)
        if row is None:
            continue
        t = int(row["time"])
        if t in finals:
            assert row == finals[t], f"closed candle {t} was changed afterwards"
        elif row.get("closed", row.get("is_closed")):
            finals[t] = row


async def test_smarttrade_client_survives_every_upstream_fault() -> None:
    async with running_hub(
        sim_config(),
        symbols=("BTCUSDT", "ETHUSDT"),
        intervals=("1m",),
        data_timeout_s=2.0,
        feeds=(),  # candles only: no books, tapes or liquidations to run
    ) as hub:
        await wait_ready(hub.http)
        series = await load_rest(hub.http, SYMBOL, "1m", limit=300)
        extract = smarttrade_candle(SYMBOL, "1m")
        follower = Follower(series, extract)
        await follower.start(f"{hub.ws}/ws/candles", [{"symbol": SYMBOL, "interval": "1m"}])
        faults = hub.sim.faults
        injections: tuple[Callable[[], object], ...] = (
            lambda: faults.duplicate(30),
            lambda: faults.malformed(5),
            lambda: faults.skip_final(3),
            faults.drop_connections,
            lambda: faults.stall(5.0),  # longer than the hub's 2 s data watchdog
            faults.server_shutdown,
            faults.connection_age_limit,
        )
        for inject in injections:
            inject()
            await minutes(hub.sim, 3)
        # A reconnect whose backfill meets 429s (with Retry-After) and a 503.
        faults.rest_errors(429, count=3, retry_after=1.0)
        faults.rest_errors(503, count=1)
        faults.drop_connections()
        await minutes(hub.sim, 4)
        # A true exchange outage: the candles it swallows never exist anywhere.
        outage = faults.downtime(180_000)
        await minutes(hub.sim, 6)
        await settle(hub, SYMBOL)
        await follower.stop()

        assert follower.close_code in (None, 1000)
        assert_equals_truth(series, hub.sim, SYMBOL)
        assert_never_reopened(follower.received, extract)
        async with httpx.AsyncClient(base_url=hub.http) as client:
            status = (await client.get("/streaming/status")).json()
        topic = next(t for t in status["topics"] if t["topic"] == f"{SYMBOL}:1m")
        assert topic["continuous"] is True
        assert topic["exchange_gaps"], "the outage must be recorded as a known exchange gap"
        gap_first, gap_last = topic["exchange_gaps"][0]
        assert outage.start_ms <= gap_first * 1000 <= gap_last * 1000 < outage.end_ms
        assert topic["gaps_filled"] > 0


async def test_native_client_resumes_with_since_after_missing_several_candles() -> None:
    async with running_hub(sim_config(), symbols=("BTCUSDT",), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        series = ChartSeries()
        url = f"{hub.ws}/ws"
        hello = {"op": "subscribe", "channel": "candles", "symbol": SYMBOL, "interval": "1m"}
        first = Follower(series, native_candles(series))
        await first.start(url, [hello | {"limit": 200}])
        await minutes(hub.sim, 3)
        await first.stop()
        last_time = series.times()[-1]

        await minutes(hub.sim, 5)  # the client is away for five candles
        second = Follower(series, native_candles(series))
        await second.start(url, [hello | {"since": last_time}])
        await minutes(hub.sim, 3)
        await settle(hub, SYMBOL)
        await minutes(hub.sim, 1)
        await second.stop()

        snapshot = next(m for m in second.received if m["type"] == "snapshot")
        assert snapshot["reset"] is False
        assert snapshot["candles"][0]["time"] == last_time
        assert_equals_truth(series, hub.sim, SYMBOL)
