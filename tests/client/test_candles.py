"""A client following candles through a real hub ends on the exchange's exact series.

The client reaches the hub through a relay (as through a load balancer), which the test
uses to cut the client's socket for real and to keep it away for several candles; the
simulated exchange meanwhile drops the hub's own upstream connections.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from client.consumers import CandleCopy, caught_up, minutes, until
from client.relay import Relay
from marketcast.client import Client, HubError
from marketcast.exchanges.sim import SimConfig
from support.servers import running_hub, wait_ready
from support.truth import assert_equals_truth

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SYMBOL = "BTCUSDT"
SIM = SimConfig(
    seed=23, symbols=(SYMBOL,), start_ms=1_780_272_000_000, speed=60.0, push_interval_s=0.2
)


async def test_the_followed_series_equals_the_truth_through_drops_and_cuts() -> None:
    async with (
        running_hub(SIM, symbols=(SYMBOL,), intervals=("1m",), feeds=()) as hub,
        Relay(hub.http) as relay,
    ):
        await wait_ready(hub.http)
        async with Client(relay.http) as client, client.candles(SYMBOL, "1m", history=40) as stream:
            copy = CandleCopy()
            consumer = asyncio.create_task(copy.consume(stream))
            await until(lambda: len(copy.rows) >= 40)

            assert hub.sim.faults.drop_connections() >= 1  # the hub's upstream
            await minutes(hub.sim, 2)
            assert relay.cut() == 1  # the client's own socket
            await until(lambda: stream.link.connects == 2 and stream.live)
            await minutes(hub.sim, 2)
            relay.refusing = True  # away for several candles: a resume, not a repeat
            relay.cut()
            await minutes(hub.sim, 5)
            relay.refusing = False
            await until(lambda: stream.link.connects == 3 and stream.live)
            await minutes(hub.sim, 2)
            await until(lambda: caught_up(copy, hub.sim))
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)

        assert copy.resets == []
        assert copy.closed_twice() == []
        assert list(copy.rows.values()) == stream.series.candles()
        assert len(copy.rows) >= 40 + 10
        assert_equals_truth(copy.chart(), hub.sim, SYMBOL)


async def test_an_unknown_symbol_is_raised_on_the_socket_and_over_rest() -> None:
    async with running_hub(SIM, symbols=(SYMBOL,), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        async with Client(hub.http) as client:
            async with client.candles("BTCXUSDT", "1m") as stream:
                with pytest.raises(HubError) as on_socket:
                    await anext(stream)
            with pytest.raises(HubError) as over_rest:
                await client.history("BTCXUSDT", "1m")
            with pytest.raises(HubError) as bad_interval:
                await client.history(SYMBOL, "1D")
    assert (on_socket.value.code, on_socket.value.status) == ("unknown_symbol", None)
    assert (over_rest.value.code, over_rest.value.status) == ("unknown_symbol", 404)
    assert "1d" in bad_interval.value.details["valid_intervals"]
    assert Counter(type(e.value).__name__ for e in (on_socket, over_rest)) == {"HubError": 2}
