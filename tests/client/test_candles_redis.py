"""A client following candles while its hub restarts on the same Redis misses nothing.

The hub is stopped and a new one started against the same store, behind the same address
(a relay, as a load balancer); while it is down the exchange moves on. The client waits
out the refused connections and the new hub's loading, resumes with ``since`` and ends on
the exchange's exact series.
"""

from __future__ import annotations

import asyncio

import pytest

from client.consumers import CandleCopy, caught_up, minutes, until
from client.relay import Relay
from marketcast.api.app import create_app
from marketcast.client import Client
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.redis_server import redis_url
from support.servers import hub_settings, serve_app, wait_ready
from support.truth import assert_equals_truth

__all__ = ["redis_url"]

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.timeout(120)]

SYMBOL = "BTCUSDT"
CONFIG = SimConfig(seed=5, start_ms=1_780_272_000_000, speed=60.0, push_interval_s=0.2)


async def test_a_hub_restart_on_the_same_redis_is_followed_without_a_gap(redis_url: str) -> None:
    copy = CandleCopy()
    async with (
        SimExchange(CONFIG) as sim,
        Relay("http://127.0.0.1:9") as relay,  # pointed at each hub in turn
        Client(relay.http) as client,
        client.candles(SYMBOL, "1m", history=30) as stream,
    ):
        settings = hub_settings(
            sim, store="redis", redis_url=redis_url, symbols=(SYMBOL,), intervals=("1m",), feeds=()
        )
        async with serve_app(create_app(settings, simulated=True)) as first:
            relay.target = first
            await wait_ready(first)
            consumer = asyncio.create_task(copy.consume(stream))
            await until(lambda: len(copy.rows) >= 30 and caught_up(copy, sim))
        await until(lambda: not stream.live)
        away_from = stream.series.newest_time
        await minutes(sim, 4)  # the hub is down while candles close

        async with serve_app(create_app(settings, simulated=True)) as second:
            relay.target = second
            await until(lambda: stream.link.connects >= 2 and stream.live, timeout=60)
            await minutes(sim, 2)
            await until(lambda: caught_up(copy, sim))
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)

    assert copy.resets == []
    assert copy.closed_twice() == []
    assert away_from is not None
    assert copy.newest_closed() >= away_from + 5 * 60  # what closed while it was down
    assert list(copy.rows.values()) == stream.series.candles()
    assert_equals_truth(copy.chart(), sim, SYMBOL)
