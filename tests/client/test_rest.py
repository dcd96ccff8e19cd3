"""``Client.history``: a continuous range equal to the exchange's, paged with ``before``;
refusals raised with the hub's words; "retry later" waited out, within bounds."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from starlette.types import Receive, Scope, Send

from client.consumers import M1
from marketcast.client import AuthenticationError, Candle, Client, HubUnavailable
from marketcast.exchanges.sim import SimConfig
from support.follow import ChartSeries
from support.servers import running_hub, serve_app, wait_ready
from support.truth import assert_equals_truth

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

SYMBOL = "BTCUSDT"
SIM = SimConfig(
    seed=29, symbols=(SYMBOL,), start_ms=1_780_272_000_000, speed=60.0, push_interval_s=0.2
)


def chart(candles: list[Candle]) -> ChartSeries:
    series = ChartSeries()
    for candle in candles:
        series.apply(asdict(candle))
    return series


async def test_a_range_read_in_pages_equals_the_exchange_range() -> None:
    async with running_hub(SIM, symbols=(SYMBOL,), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        now_open = M1.floor(hub.sim.clock.now_ms()) // 1000
        start, end = now_open - 250 * 60, now_open - 10 * 60
        async with Client(hub.http, page_size=60) as client:
            candles = await client.history(SYMBOL, "1m", start=start, end=end * 1000)
        times = [candle.time for candle in candles]
        assert times == list(range(start, end, 60))  # [start, end): no gap, no repeat
        assert all(candle.closed for candle in candles)
        assert_equals_truth(chart(candles), hub.sim, SYMBOL)

        async with Client(hub.http) as client:  # a page of 1000 is over this hub's 300
            newest = await client.history(SYMBOL, "1m", limit=280)
            since = datetime.fromtimestamp(start, tz=UTC)
            from_start = await client.history(SYMBOL, "1m", start=since, end=end)
            assert client.page_size == 300  # learnt from the hub's invalid_limit
        assert len(newest) == 280
        assert [c.time for c in newest] == list(range(newest[0].time, newest[-1].time + 60, 60))
        assert newest[-1].time >= now_open  # the forming candle is the newest
        assert from_start == candles


async def test_a_hub_with_a_token_refuses_a_client_without_it() -> None:
    async with running_hub(
        SIM, symbols=(SYMBOL,), intervals=("1m",), feeds=(), auth_token="s3cret"
    ) as hub:
        await wait_ready(hub.http)
        async with Client(hub.http) as client:
            with pytest.raises(AuthenticationError) as over_rest:
                await client.history(SYMBOL, "1m", limit=5)
            async with client.candles(SYMBOL, "1m") as stream:
                with pytest.raises(AuthenticationError):
                    await anext(stream)
        assert over_rest.value.status == 401
        async with Client(hub.http, token="s3cret") as client:
            assert len(await client.history(SYMBOL, "1m", limit=5)) == 5
            async with client.candles(SYMBOL, "1m", history=5) as stream:
                assert isinstance(await anext(stream), Candle)


def busy_then_candles(busy: int) -> Any:
    """An HTTP app answering ``503`` with ``Retry-After: 1`` ``busy`` times, then a page."""
    calls = itertools.count()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body: dict[str, Any]
        if next(calls) < busy:
            status = 503
            body = {"detail": "older history is not available now", "code": "history_busy"}
            headers = [(b"retry-after", b"1")]
        else:
            status, headers = 200, []
            row = {"time": 60, "open": 1, "high": 2, "low": 1, "close": 2, "volume": 5}
            body = {"candles": [row | {"closed": True}]}
        headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": orjson.dumps(body)})

    return app


async def test_retry_after_is_honoured_and_the_attempts_are_bounded() -> None:
    async with serve_app(busy_then_candles(busy=1)) as http:
        async with Client(http) as client:
            started = asyncio.get_running_loop().time()
            candles = await client.history(SYMBOL, "1m", limit=10)
            assert asyncio.get_running_loop().time() - started >= 1.0
        assert candles == [Candle(60, 1.0, 2.0, 1.0, 2.0, 5.0, closed=True)]
    async with (
        serve_app(busy_then_candles(busy=99)) as http,
        Client(http, attempts=2) as client,
    ):
        with pytest.raises(HubUnavailable, match="history"):
            await client.history(SYMBOL, "1m", limit=10)
