"""Acceptance: a client that stops reading is cut off with 4008 without slowing others,
and heals by resuming with ``since``."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import httpx
import pytest

from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import DEFAULT_SYMBOLS, SimConfig
from support.follow import ChartSeries, Follower, native_by_symbol
from support.rawws import StalledClient
from support.servers import running_hub, wait_ready
from support.truth import assert_equals_truth

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

START_MS = 1_780_272_000_000
SYMBOLS = DEFAULT_SYMBOLS[:6]
M1 = Interval.parse("1m")


def subscribe(symbol: str, **extra: Any) -> dict[str, Any]:
    return {"op": "subscribe", "channel": "candles", "symbol": symbol, "interval": "1m", **extra}


async def cut_off(http: str, remaining: int) -> None:
    """Wait until the hub has dropped the stalled client from every topic."""
    async with httpx.AsyncClient(base_url=http) as client, asyncio.timeout(60):
        while True:
            topics = (await client.get("/streaming/status")).json()["topics"]
            if all(t["subscribers"] == remaining for t in topics):
                return
            await asyncio.sleep(0.2)


async def caught_up(follower: Follower, held: dict[str, ChartSeries], forming_s: int) -> None:
    """Wait until ``follower`` has had every symbol's snapshot and holds, for each, at
    least the candle that was forming (``forming_s``) when it resumed: healed, as far as
    a chart can tell, so what it holds can be compared with the exchange."""

    def healed() -> bool:
        answered = {m["symbol"] for m in follower.received if m.get("type") == "snapshot"}
        return answered >= set(SYMBOLS) and all(
            max(held[s].rows, default=0) >= forming_s for s in SYMBOLS
        )

    # Generous: six snapshots on a loaded machine; the wait ends as soon as they are in.
    async with asyncio.timeout(60):
        while not healed():
            await asyncio.sleep(0.05)


async def test_slow_consumer_is_closed_others_keep_flowing_and_it_heals() -> None:
    sim = SimConfig(seed=5, symbols=SYMBOLS, start_ms=START_MS, speed=120.0, push_interval_s=0.1)
    async with running_hub(
        sim,
        symbols=SYMBOLS,
        intervals=("1m",),
        buffer_size=1000,
        client_queue_limit=100,
        # A fixed kernel send buffer: autotuning would otherwise let megabytes pile up
        # for the stalled peer before the hub's own queue sees any back-pressure.
        send_buffer=32_768,
        feeds=(),  # candles only: six symbols' tapes at 120x would only load the machine
    ) as hub:
        await wait_ready(hub.http)
        fast = []
        for _ in range(3):
            follower = Follower(ChartSeries(), native_by_symbol({}))
            await follower.start(f"{hub.ws}/ws", [subscribe(s, limit=50) for s in SYMBOLS])
            fast.append(follower)

        stalled = StalledClient(f"{hub.ws}/ws")
        await stalled.connect()
        for symbol in SYMBOLS:  # ~100 kB of history per topic, never read
            await stalled.send_json(subscribe(symbol, limit=1000))

        began = time.monotonic()
        counts_before = [len(f.received) for f in fast]
        await cut_off(hub.http, remaining=len(fast))
        took = time.monotonic() - began
        counts_during = [len(f.received) - b for f, b in zip(fast, counts_before, strict=True)]

        # Reading again, it gets what was already on the wire, then the 4008 close.
        held: dict[str, ChartSeries] = {}
        extract = native_by_symbol(held)
        async with asyncio.timeout(30):
            for message in await stalled.read_until_closed():
                extract(message)
        stalled.close()
        assert stalled.close_code == 4008
        assert "slow consumer" in stalled.close_reason

        # It resumes every topic it holds from its last candle (a topic whose snapshot
        # was still queued at the cut-off is subscribed afresh) and heals.
        assert held, "what was on the wire before the close reaches the client"
        resume = [
            subscribe(s, since=held[s].times()[-1]) if s in held else subscribe(s) for s in SYMBOLS
        ]
        healed = Follower(ChartSeries(), native_by_symbol(held))
        forming_s = M1.floor(hub.sim.clock.now_ms()) // 1000
        await healed.start(f"{hub.ws}/ws", resume)
        await caught_up(healed, held, forming_s)
        for follower in [*fast, healed]:
            await follower.stop()
        for symbol in SYMBOLS:
            assert_equals_truth(held[symbol], hub.sim, symbol)

        gaps = [max(_arrival_gaps(f)) for f in fast]
        print(
            f"\nstalled client cut off after {took:.1f}s; meanwhile the fast clients got "
            f"{counts_during} messages, largest inter-arrival gap {[round(g, 3) for g in gaps]}s"
        )
        assert all(n > 0 for n in counts_during), "fast clients must keep receiving"
        for follower in fast:
            assert follower.close_code in (None, 1000), "a fast client was cut off"


def _arrival_gaps(follower: Follower) -> list[float]:
    return [b - a for a, b in itertools.pairwise(follower.arrivals)] or [0.0]


async def test_a_stalled_order_book_client_is_closed_and_releases_the_book() -> None:
    # Every order-book push replaces the queued one, so the queue never overflows: the
    # send deadline is what finds a client that stopped reading, and its hold must go.
    sim = SimConfig(seed=5, symbols=SYMBOLS, start_ms=START_MS, speed=60.0)
    async with (
        running_hub(
            sim,
            symbols=("BTCUSDT",),
            intervals=("1m",),
            client_send_timeout_s=1.0,
            send_buffer=4096,
        ) as hub,
        httpx.AsyncClient(base_url=hub.http) as client,
    ):
        await wait_ready(hub.http)
        stalled = StalledClient(f"{hub.ws}/api/v1/ws/orderbook/ETHUSDT?limit=50")
        await stalled.connect()

        async def holders() -> int:
            books = (await client.get("/health")).json()["upstream"]["feeds"]["books"]["books"]
            return int(books.get("ETHUSDT", {}).get("holders", 0))

        async with asyncio.timeout(30):
            while await holders() != 1:
                await asyncio.sleep(0.1)
            while await holders() != 0:
                await asyncio.sleep(0.2)
        async with asyncio.timeout(30):
            await stalled.read_until_closed()
        stalled.close()
        assert stalled.close_code in (4008, None)  # the close frame may not fit any more


async def test_a_client_that_stops_reading_is_closed_by_what_it_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No fixed send buffer: the kernel's autotuning absorbs megabytes on loopback, so the
    # socket never pushes back. The client's pongs are what tell.
    sim = SimConfig(seed=5, symbols=SYMBOLS, start_ms=START_MS, speed=60.0, push_interval_s=0.1)
    symbols = SYMBOLS[:3]
    async with running_hub(
        sim, symbols=symbols, intervals=("1m",), client_send_timeout_s=2.0
    ) as hub:
        await wait_ready(hub.http)
        reader = Follower(ChartSeries(), native_by_symbol({}))
        await reader.start(f"{hub.ws}/ws", [subscribe(s, limit=50) for s in symbols])
        stalled = StalledClient(f"{hub.ws}/ws")
        await stalled.connect()
        for symbol in symbols:
            await stalled.send_json(subscribe(symbol, limit=1000))
            for channel in ("orderbook", "trades"):
                await stalled.send_json({"op": "subscribe", "channel": channel, "symbol": symbol})

        def closures() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "slow consumer closed" in r.getMessage()]

        async with asyncio.timeout(60):
            while not closures():
                await asyncio.sleep(0.1)
            messages = await stalled.read_until_closed()
        stalled.close()

        assert stalled.close_code == 4008
        assert "slow consumer" in stalled.close_reason
        assert messages, "what was on the wire before the close is still delivered"
        (closure,) = closures()  # logged once, with its counts
        counts = vars(closure)
        assert counts["unacked_bytes"] > 0
        assert counts["sent_bytes"] >= counts["unacked_bytes"]
        received = len(reader.received)
        async with asyncio.timeout(30):
            while len(reader.received) == received:
                await asyncio.sleep(0.05)
        assert reader.close_code is None, "the reading client was cut off"
