"""The simulator's REST API over a real loopback socket, checked against its ground truth."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import orjson
import pytest

from marketcast.domain.intervals import DAY_MS, MINUTE_MS, Interval
from marketcast.exchanges.sim import SimConfig, SimExchange

pytestmark = pytest.mark.timeout(30)

KLINES = "/api/v3/klines"
START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
FROZEN_WALL_S = 1_800_000_000.0  # a wall-clock minute start: the weight window never rolls


def sim(**overrides: Any) -> SimExchange:
    """A simulator at ``START_MS`` whose weight window runs on a frozen wall clock."""
    settings: dict[str, Any] = {"start_ms": START_MS, "speed": 60.0, "push_interval_s": 0.2}
    settings.update(overrides)
    return SimExchange(SimConfig(**settings), wall_time=lambda: FROZEN_WALL_S)


def rows_to_opens(rows: list[list[Any]]) -> list[int]:
    return [row[0] for row in rows]


async def klines(client: httpx.AsyncClient, symbol: str, interval: str, **params: int) -> Any:
    query: dict[str, str | int] = {"symbol": symbol, "interval": interval, **params}
    response = await client.get(KLINES, params=query)
    assert response.status_code == 200, response.text
    return response.json()


async def test_klines_page_like_binance_and_match_the_ground_truth() -> None:
    async with sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        exchange.clock.pause()
        now = exchange.clock.now_ms()
        m1 = Interval.parse("1m")
        newest = await klines(client, "BTCUSDT", "1m")
        assert len(newest) == 500
        assert newest[-1][0] == m1.floor(now)
        start = m1.floor(now) - 2000 * MINUTE_MS + 30_000  # not aligned: next open counts
        page = await klines(client, "BTCUSDT", "1m", startTime=start, limit=1000)
        assert rows_to_opens(page) == [start + 30_000 + i * MINUTE_MS for i in range(1000)]
        end = page[10][0] + 5
        tail = await klines(client, "BTCUSDT", "1m", endTime=end, limit=3)
        assert rows_to_opens(tail) == rows_to_opens(page[8:11])
        both = await klines(client, "BTCUSDT", "1m", startTime=page[0][0], endTime=end)
        assert both == page[:11]
        truth = exchange.truth.klines("BTCUSDT", m1, page[0][0], page[-1][0], now)
        assert [float(r[4]) for r in page] == [c.close for c in truth]
        assert [float(r[5]) for r in page] == [c.volume for c in truth]
        assert [r[8] for r in page] == [c.trades for c in truth]
        row = page[0]
        assert len(row) == 12
        assert all(
            isinstance(row[i], str) and len(row[i].split(".")[1]) == 8
            for i in (1, 2, 3, 4, 5, 7, 9, 10)
        )
        assert row[6] == row[0] + MINUTE_MS - 1
        assert row[11] == "0"


@pytest.mark.parametrize("code", ["1M", "1w", "3d"])
async def test_calendar_and_multi_day_open_times_follow_interval_arithmetic(code: str) -> None:
    interval = Interval.parse(code)
    async with sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        exchange.clock.pause()
        rows = await klines(client, "ETHUSDT", code, limit=40)
        opens = rows_to_opens(rows)
        assert opens[-1] == interval.floor(exchange.clock.now_ms())
        assert all(interval.floor(t) == t for t in opens)
        assert all(interval.next_open(a) == b for a, b in itertools.pairwise(opens))
        assert all(row[6] == interval.next_open(row[0]) - 1 for row in rows)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1001}, -1130),
        ({"symbol": "NOPEUSDT", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "1H"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1min"}, -1120),
        ({"interval": "1m"}, -1102),
    ],
)
async def test_bad_kline_requests_get_400_with_binance_codes(
    params: dict[str, str | int], code: int
) -> None:
    async with sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        response = await client.get(KLINES, params=params)
        assert response.status_code == 400
        assert response.json()["code"] == code
        assert response.headers["X-MBX-USED-WEIGHT-1M"] == "2"


async def test_weight_header_then_429_then_418_with_retry_after() -> None:
    async with (
        sim(weight_limit_per_minute=10) as exchange,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        params = {"symbol": "BTCUSDT", "interval": "1h", "limit": "2"}
        used = [
            (await client.get(KLINES, params=params)).headers["X-MBX-USED-WEIGHT-1M"]
            for _ in range(5)
        ]
        assert used == ["2", "4", "6", "8", "10"]
        told = await client.get(KLINES, params=params)
        assert told.status_code == 429
        assert told.json()["code"] == -1003
        assert int(told.headers["Retry-After"]) > 0
        statuses = [(await client.get("/api/v3/time")).status_code for _ in range(2)]
        assert statuses == [429, 418]
        banned = await client.get("/api/v3/ping")
        assert banned.status_code == 418
        assert int(banned.headers["Retry-After"]) >= 60
        assert exchange.stats.klines_requests[(KLINES, "BTCUSDT", "1h")] == 6


async def test_exchange_info_ticker_time_and_ping() -> None:
    async with (
        sim(start_paused=True) as exchange,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        assert (await client.get("/api/v3/ping")).json() == {}
        assert (await client.get("/api/v3/time")).json() == {"serverTime": START_MS}
        info = (await client.get("/api/v3/exchangeInfo")).json()
        assert info["timezone"] == "UTC"
        assert {s["symbol"] for s in info["symbols"]} >= {"BTCUSDT", "DOTUSDT", "SUIUSDT"}
        one = (await client.get("/api/v3/exchangeInfo", params={"symbol": "BTCUSDT"})).json()
        (btc,) = one["symbols"]
        filters = {f["filterType"]: f for f in btc["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
        assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
        assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USDT", "TRADING")
        some = await client.get(
            "/api/v3/exchangeInfo",
            params={"symbols": orjson.dumps(["ETHUSDT", "BTCUSDT"]).decode()},
        )
        assert [s["symbol"] for s in some.json()["symbols"]] == ["ETHUSDT", "BTCUSDT"]
        ticker = (await client.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"})).json()
        assert ticker["closeTime"] == START_MS
        assert ticker["openTime"] == START_MS - DAY_MS
        last_minute = exchange.truth.candle("BTCUSDT", Interval.parse("1m"), START_MS, START_MS)
        assert last_minute is not None
        assert float(ticker["lastPrice"]) == last_minute.close
        assert ticker["count"] == ticker["lastId"] - ticker["firstId"] + 1
        everything = (await client.get("/api/v3/ticker/24hr")).json()
        assert len(everything) == len(info["symbols"])
        assert (await client.get("/api/v3/ticker/24hr", params={"symbol": "X"})).status_code == 400


async def test_injected_rest_errors_and_latency() -> None:
    async with sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        exchange.faults.rest_errors(503, 2)
        exchange.faults.rest_errors(429, 1, retry_after=7)
        exchange.faults.rest_errors(502)
        statuses = [await client.get("/api/v3/time") for _ in range(5)]
        assert [r.status_code for r in statuses] == [503, 503, 429, 502, 200]
        assert statuses[2].headers["Retry-After"] == "7"
        assert "text/html" in statuses[3].headers["content-type"]
        exchange.faults.rest_latency(0.05)
        assert (await client.get("/api/v3/ping")).status_code == 200
        exchange.faults.rest_latency(0)
        with pytest.raises(ValueError, match="status"):
            exchange.faults.rest_errors(404)


async def test_downtime_answers_503_and_leaves_a_true_gap() -> None:
    async with (
        sim(start_paused=True) as exchange,
        httpx.AsyncClient(base_url=exchange.rest_base) as client,
    ):
        window = exchange.faults.downtime(5 * MINUTE_MS)
        assert (await client.get("/api/v3/time")).status_code == 503
        exchange.clock.advance(10 * MINUTE_MS)
        rows = await klines(client, "BTCUSDT", "1m", startTime=START_MS - MINUTE_MS)
        opens = rows_to_opens(rows)
        assert opens == [
            START_MS - MINUTE_MS,
            *range(window.end_ms, START_MS + 11 * MINUTE_MS, MINUTE_MS),
        ]
        assert (
            exchange.truth.candle(
                "BTCUSDT", Interval.parse("1m"), START_MS, exchange.clock.now_ms()
            )
            is None
        )
