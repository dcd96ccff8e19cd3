"""Candles older than the buffer: paged from the exchange, equal to the truth, cached,
fetched once however many ask, stitched to the buffer without a seam, and bounded (before
the first candle: 400; the history share of the weight spent: 503 with Retry-After)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from marketcast.api.app import create_app
from marketcast.domain.history_pages import page_of
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.rest.spot import KLINES_PATH
from marketcast.metrics import REGISTRY
from support.redis_server import redis_url
from support.servers import Running, hub_settings, running_hub, serve_app, wait_ready

__all__ = ["redis_url"]

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

Json = dict[str, Any]
M1 = Interval.parse("1m")
MINUTE_S = 60
START_MS = 1_780_272_000_000
# The exchange was down for 45 minutes two weeks before the start: 45 candles never existed.
DOWN_MS = START_MS - 20_000 * 60_000
SIM = SimConfig(
    seed=8,
    symbols=("BTCUSDT", "ETHUSDT"),
    start_ms=START_MS,
    speed=1.0,
    past_downtimes=((DOWN_MS, DOWN_MS + 45 * 60_000),),
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hub() -> AsyncIterator[Running]:
    # No data watchdog to speak of: its reconnect would refill from REST and blur the
    # exchange request counts these tests read.
    async with running_hub(
        SIM, symbols=("BTCUSDT",), intervals=("1m",), buffer_size=1000, data_timeout_s=600.0
    ) as running:
        await wait_ready(running.http, timeout=60)
        yield running


def klines_requests(sim: SimExchange, symbol: str = "BTCUSDT") -> int:
    return sim.stats.klines_requests[(KLINES_PATH, symbol, "1m")]


def pages_read(source: str) -> float:
    """``marketcast_history_pages_total`` of spot from ``source``, as /metrics shows it."""
    labels = {"market": "spot", "source": source}
    return REGISTRY.get_sample_value("marketcast_history_pages_total", labels) or 0.0


async def candles(http: httpx.AsyncClient, **params: int) -> Json:
    response = await http.get("/candles/BTCUSDT/1m", params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def assert_truth(sim: SimExchange, rows: list[Json]) -> None:
    """The rows are the exchange's candles of their span: same open times (exchange gaps
    absent in both), same final values, each once."""
    times = [row["time"] for row in rows]
    assert len(set(times)) == len(times), "an open time twice"
    now = sim.clock.now_ms()
    truth = sim.truth.klines("BTCUSDT", M1, times[0] * 1000, times[-1] * 1000, now)
    assert [c.time for c in truth] == times, "missing or extra candles versus the exchange"
    for candle, row in zip(truth[:-1], rows[:-1], strict=True):
        got = (row["open"], row["high"], row["low"], row["close"], row["volume"], row["closed"])
        assert got == (candle.open, candle.high, candle.low, candle.close, candle.volume, True)


async def page_back(http: httpx.AsyncClient, pages: int) -> list[Json]:
    series: list[Json] = (await candles(http, limit=1000))["candles"]
    for _ in range(pages):
        older = await candles(http, before=series[0]["time"], limit=1000)
        assert len(older["candles"]) == 1000 or older.get("gaps"), "a silent short page"
        series = older["candles"] + series
    return series


async def test_paging_back_ten_thousand_candles_is_the_truth_and_costs_nothing_twice(
    hub: Running,
) -> None:
    async with httpx.AsyncClient(base_url=hub.http, timeout=60) as http:
        before = klines_requests(hub.sim)
        first_pass = await page_back(http, 10)
        made = klines_requests(hub.sim) - before
        second_pass = await page_back(http, 10)
        again = klines_requests(hub.sim) - before - made
    assert len(first_pass) >= 11_000 - 60  # the buffer and ten pages, less exchange gaps
    assert_truth(hub.sim, first_pass)
    # Ten requests of 1000 touch eleven aligned pages, plus the first-candle lookup.
    assert made <= 12
    assert again == 0
    # The buffer moved on by at most a candle or two in between; the history did not.
    assert second_pass[:10_000] == first_pass[:10_000]


async def test_fifty_clients_asking_for_one_page_make_one_exchange_request(hub: Running) -> None:
    async with httpx.AsyncClient(base_url=hub.http, timeout=60) as http:
        newest = (await candles(http, limit=1))["candles"][0]["time"] * 1000
        page = page_of(M1, newest - 30_000 * MINUTE_S * 1000)  # weeks older than the buffer
        await candles(http, before=page.first // 1000, limit=1)  # the first-candle lookup
        before = klines_requests(hub.sim)
        pages_before = {source: pages_read(source) for source in ("cache", "exchange")}
        wanted = {"before": page.last // 1000, "limit": 10}  # inside this page alone
        answers = await asyncio.gather(*(candles(http, **wanted) for _ in range(50)))
        made = klines_requests(hub.sim) - before
    assert made == 1
    assert pages_read("exchange") - pages_before["exchange"] == 1
    assert pages_read("cache") - pages_before["cache"] == 49
    assert all(body == answers[0] for body in answers)
    assert [row["time"] * 1000 for row in answers[0]["candles"]][-1] < page.last


async def test_ranges_across_the_buffer_edge_have_no_seam(hub: Running) -> None:
    async with httpx.AsyncClient(base_url=hub.http, timeout=60) as http:
        buffer = (await candles(http, limit=1000))["candles"]
        edge = buffer[0]["time"]
        forward = (await candles(http, since=edge - 500 * MINUTE_S, limit=1000))["candles"]
        backward = (await candles(http, before=edge + 500 * MINUTE_S, limit=1000))["candles"]
    for rows in (forward, backward):
        assert len(rows) == 1000
        assert_truth(hub.sim, rows)
        assert edge in [row["time"] for row in rows]
    assert forward[0]["time"] == edge - 500 * MINUTE_S
    assert backward[-1]["time"] == edge + 499 * MINUTE_S


async def test_the_first_candle_bounds_the_history(hub: Running) -> None:
    listing_s = hub.sim.truth.tape.listing_ms("BTCUSDT") // 1000
    async with httpx.AsyncClient(base_url=hub.http, timeout=60) as http:
        refused = await http.get("/candles/BTCUSDT/1m", params={"before": listing_s})
        first = await candles(http, before=listing_s + 10 * MINUTE_S, limit=1000)
        from_start = await candles(http, since=listing_s - 3600, limit=5)
    assert refused.status_code == 400
    body = refused.json()
    assert (body["code"], body["first_time"]) == ("before_history", listing_s)
    assert "first one" in body["detail"]
    # Short, and it says why: there is nothing older.
    assert first["candles"][0]["time"] == listing_s
    assert len(first["candles"]) == 10
    assert first["history_start"] == listing_s
    assert [row["time"] for row in from_start["candles"]] == [
        listing_s + i * MINUTE_S for i in range(5)
    ]


async def test_exchange_gaps_are_reported_not_papered_over(hub: Running) -> None:
    first, last = DOWN_MS // 1000, DOWN_MS // 1000 + 44 * MINUTE_S
    async with httpx.AsyncClient(base_url=hub.http, timeout=60) as http:
        body = await candles(http, before=last + 30 * MINUTE_S, limit=200)
    assert body["gaps"] == [[first, last]]
    assert len(body["candles"]) == 200
    assert_truth(hub.sim, body["candles"])


async def test_a_spent_history_share_is_a_503_with_retry_after() -> None:
    # 40 weight a minute: the bootstrap fits; history may spend half of the 36 left under
    # the safety margin, 2 per page, so a walk over many pages runs out.
    async with running_hub(
        SIM, symbols=("ETHUSDT",), intervals=("1m",), buffer_size=100, weight_limit=40
    ) as running:
        await wait_ready(running.http, timeout=60)
        async with httpx.AsyncClient(base_url=running.http, timeout=60) as http:
            statuses: list[httpx.Response] = []
            before = (await http.get("/candles/ETHUSDT/1m", params={"limit": 1})).json()
            oldest = before["candles"][0]["time"] - 100 * MINUTE_S
            for step in range(1, 30):
                response = await http.get(
                    "/candles/ETHUSDT/1m",
                    params={"before": oldest - step * 1000 * MINUTE_S, "limit": 100},
                )
                statuses.append(response)
                if response.status_code != 200:
                    break
    refused = statuses[-1]
    assert refused.status_code == 503, [r.status_code for r in statuses]
    assert refused.json()["code"] == "history_busy"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61


@pytest.mark.redis
async def test_with_redis_a_page_one_node_fetched_costs_another_node_nothing(
    redis_url: str,
) -> None:
    async with SimExchange(SIM) as sim:
        settings = hub_settings(
            sim,
            store="redis",
            redis_url=redis_url,
            symbols=("ETHUSDT",),
            intervals=("1m",),
            buffer_size=500,
            feeds=(),
            data_timeout_s=600.0,
        )
        async with (
            serve_app(create_app(settings, simulated=True)) as first_node,
            serve_app(create_app(settings, simulated=True)) as second_node,
        ):
            await wait_ready(first_node, timeout=60)
            await wait_ready(second_node, timeout=60)
            async with (
                httpx.AsyncClient(base_url=first_node, timeout=60) as first,
                httpx.AsyncClient(base_url=second_node, timeout=60) as second,
            ):
                edge = (await first.get("/candles/ETHUSDT/1m?limit=500")).json()["candles"][0]
                wanted = {"before": edge["time"] - 5000 * MINUTE_S, "limit": 500}
                fetched = (await first.get("/candles/ETHUSDT/1m", params=wanted)).json()
                before = klines_requests(sim, "ETHUSDT")
                shared = (await second.get("/candles/ETHUSDT/1m", params=wanted)).json()
                made = klines_requests(sim, "ETHUSDT") - before
    assert made == 0
    assert shared == fetched
    assert len(fetched["candles"]) == 500
