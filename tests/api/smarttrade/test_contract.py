"""SmartTrade's REST and WebSocket contract (docs/smarttrade.md) against a real hub over
the simulator.

One hub is shared by the module; each test opens its own sockets. Closed candles are
compared with the simulator's ground truth, so "exact" means exact.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.servers import Running, running_hub, wait_ready
from support.wsio import closed_with, connect, gather_for, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
BUFFER = 200
SYMBOLS = ("BTCUSDT", "ETHUSDT")
INTERVALS = ("1m", "5m")
SIM = SimConfig(
    seed=11,
    symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    start_ms=START_MS,
    speed=60.0,
    push_interval_s=0.2,
)
CANDLE_KEYS = {"time", "open", "high", "low", "close", "volume", "closed"}
WS_CANDLE_KEYS = {"time", "open", "high", "low", "close", "volume", "is_closed"}
LIVE_KEYS = {"type", "symbol"} | WS_CANDLE_KEYS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(
        SIM,
        symbols=SYMBOLS,
        intervals=INTERVALS,
        buffer_size=BUFFER,
        feeds=(),  # candles only: no books, tapes or liquidations to run
    ) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=10.0) as http:
        yield http


# -- helpers -------------------------------------------------------------------------
def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def is_candle(symbol: str, interval: str) -> Callable[[Json], bool]:
    def wanted(message: Json) -> bool:
        return (
            message.get("type") == "candle"
            and message.get("symbol") == symbol
            and message.get("interval") == interval
        )

    return wanted


def truth(
    sim: SimExchange, symbol: str, code: str, first_ms: int, last_ms: int
) -> dict[int, Candle]:
    interval = Interval.parse(code)
    now = sim.clock.now_ms()
    return {c.open_time: c for c in sim.truth.klines(symbol, interval, first_ms, last_ms, now)}


def ohlcv(row: Json | Candle) -> tuple[float, ...]:
    if isinstance(row, Candle):
        return (row.open, row.high, row.low, row.close, row.volume)
    return (row["open"], row["high"], row["low"], row["close"], row["volume"])


def assert_closed_rows_match_truth(
    sim: SimExchange, symbol: str, code: str, rows_by_ms: dict[int, Json], closed_key: str
) -> int:
    """Every closed row equals the exchange's final kline; returns how many were checked."""
    expected = truth(sim, symbol, code, min(rows_by_ms), max(rows_by_ms))
    checked = 0
    for open_ms, row in sorted(rows_by_ms.items()):
        if not row[closed_key]:
            continue
        final = expected.get(open_ms)
        assert final is not None, f"{symbol} {code} {open_ms}: not on the exchange"
        assert final.closed, f"{symbol} {code} {open_ms}: not final on the exchange"
        assert ohlcv(row) == ohlcv(final), f"{symbol} {code} {open_ms}"
        checked += 1
    return checked


def steps(times: list[int]) -> set[int]:
    return {b - a for a, b in itertools.pairwise(times)}


# -- REST ----------------------------------------------------------------------------
async def test_health_is_ok_and_says_simulated(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["mode"] == "SIMULATED"
    assert body["sim_speed"] == SIM.speed


async def test_symbols_and_api_symbols_list_the_configured_symbols(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/symbols")).json() == {"symbols": list(SYMBOLS)}
    assert (await client.get("/api/symbols")).json() == {
        "symbols": list(SYMBOLS),
        "count": len(SYMBOLS),
    }


@pytest.mark.parametrize(("symbol", "interval"), [("BTCUSDT", "1m"), ("ETHUSDT", "5m")])
async def test_candles_have_the_contract_shape_and_form_a_continuous_series(
    client: httpx.AsyncClient, symbol: str, interval: str
) -> None:
    response = await client.get(f"/candles/{symbol}/{interval}", params={"limit": 50})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"symbol", "interval", "candles"}
    assert (body["symbol"], body["interval"]) == (symbol, interval)
    candles = body["candles"]
    assert len(candles) == 50
    for row in candles:
        assert set(row) == CANDLE_KEYS
        assert isinstance(row["time"], int)
        assert row["time"] < 10**11
        assert all(isinstance(row[k], float) for k in ("open", "high", "low", "close", "volume"))
        assert isinstance(row["closed"], bool)
        assert row["low"] <= min(row["open"], row["close"]) <= row["high"]
    length_s = (Interval.parse(interval).fixed_ms or 0) // 1000
    assert steps([row["time"] for row in candles]) == {length_s}
    assert all(row["closed"] for row in candles[:-1])


@pytest.mark.parametrize("limit", ["0", "-1", str(BUFFER + 1), "abc", "1.5"])
async def test_candles_limit_outside_the_buffer_is_a_400_naming_the_range(
    client: httpx.AsyncClient, limit: str
) -> None:
    response = await client.get("/candles/BTCUSDT/1m", params={"limit": limit})
    assert response.status_code == 400
    assert f"1..{BUFFER}" in response.json()["detail"]


async def test_candles_limit_bounds_are_inclusive(client: httpx.AsyncClient) -> None:
    one = await client.get("/candles/BTCUSDT/1m", params={"limit": 1})
    full = await client.get("/candles/BTCUSDT/1m", params={"limit": BUFFER})
    assert len(one.json()["candles"]) == 1
    assert len(full.json()["candles"]) == BUFFER


async def test_candles_without_limit_return_the_whole_buffer(client: httpx.AsyncClient) -> None:
    response = await client.get("/candles/ETHUSDT/1m")
    assert response.status_code == 200
    assert len(response.json()["candles"]) == min(500, BUFFER)


async def test_candles_of_an_unknown_symbol_are_404_with_suggestions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/candles/BTCXUSDT/1m")
    assert response.status_code == 404
    body = response.json()
    assert "BTCXUSDT" in body["detail"]
    assert "BTCUSDT" in body["suggestions"]


async def test_candles_with_an_invalid_interval_are_400_listing_valid_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/candles/BTCUSDT/1D")
    assert response.status_code == 400
    body = response.json()
    assert {"1m", "1M", "1d"} <= set(body["valid_intervals"])
    assert "1m" in body["detail"]
    assert "1D" in body["detail"]


async def test_month_and_minute_are_distinct_topics_and_months_are_served_on_demand(
    hub: Running, client: httpx.AsyncClient
) -> None:
    month = await client.get("/candles/BTCUSDT/1M", params={"limit": 12})
    minute = await client.get("/candles/BTCUSDT/1m", params={"limit": 12})
    assert month.status_code == minute.status_code == 200
    assert month.json()["interval"] == "1M"
    month_rows = month.json()["candles"]
    minute_rows = minute.json()["candles"]
    assert len(month_rows) == 12
    month_code = Interval.parse("1M")
    assert all(month_code.floor(r["time"] * 1000) == r["time"] * 1000 for r in month_rows)
    assert steps([r["time"] for r in minute_rows]) == {60}
    assert {r["time"] for r in month_rows}.isdisjoint(r["time"] for r in minute_rows[:-1])
    by_ms = {r["time"] * 1000: r for r in month_rows}
    assert assert_closed_rows_match_truth(hub.sim, "BTCUSDT", "1M", by_ms, "closed") == 11

    status = (await client.get("/streaming/status")).json()
    on_demand = {t["topic"]: t["on_demand"] for t in status["topics"]}
    assert on_demand["BTCUSDT:1M"] is True
    assert on_demand["BTCUSDT:1m"] is False


@pytest.mark.parametrize(("symbol", "interval"), [("BTCUSDT", "1m"), ("ETHUSDT", "5m")])
async def test_closed_candles_equal_the_exchange_ground_truth(
    hub: Running, client: httpx.AsyncClient, symbol: str, interval: str
) -> None:
    response = await client.get(f"/candles/{symbol}/{interval}", params={"limit": BUFFER})
    rows = {row["time"] * 1000: row for row in response.json()["candles"]}
    checked = assert_closed_rows_match_truth(hub.sim, symbol, interval, rows, "closed")
    assert checked >= BUFFER - 1


async def test_historical_returns_the_last_hours_in_milliseconds(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/historical/BTCUSDT", params={"interval": "1m", "hours": 1})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"symbol", "interval", "hours", "count", "data"}
    assert (body["symbol"], body["interval"], body["hours"]) == ("BTCUSDT", "1m", 1)
    data = body["data"]
    assert body["count"] == len(data) == 60
    for row in data:
        assert set(row) == WS_CANDLE_KEYS
        assert row["time"] > 10**12
        assert row["time"] % 60_000 == 0
    times = [row["time"] for row in data]
    assert steps(times) == {60_000}
    newest = times[-1]
    assert all(newest - t < 3_600_000 for t in times)


async def test_historical_is_bounded_by_the_buffer_and_follows_the_interval(
    client: httpx.AsyncClient,
) -> None:
    long = (await client.get("/api/historical/ETHUSDT", params={"hours": 12})).json()
    assert long["interval"] == "1m"  # the default
    assert long["count"] == len(long["data"]) == BUFFER
    five = (await client.get("/api/historical/ETHUSDT", params={"interval": "5m"})).json()
    assert five["hours"] == 12  # the default
    assert five["count"] == 12 * 12  # 12 h of 5m candles fit in the buffer
    assert steps([row["time"] for row in five["data"]]) == {300_000}


@pytest.mark.parametrize("hours", ["0", "-3", "abc", "1.5", "100000"])
async def test_historical_with_bad_hours_is_400(client: httpx.AsyncClient, hours: str) -> None:
    response = await client.get("/api/historical/BTCUSDT", params={"hours": hours})
    assert response.status_code == 400
    assert "hours" in response.json()["detail"]


async def test_historical_rejects_unknown_symbols_and_intervals(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/historical/NOPEUSDT")).status_code == 404
    bad = await client.get("/api/historical/BTCUSDT", params={"interval": "1D"})
    assert bad.status_code == 400
    assert "1m" in bad.json()["valid_intervals"]


async def test_streaming_status_has_the_smarttrade_shape(client: httpx.AsyncClient) -> None:
    body = (await client.get("/streaming/status")).json()
    assert {"symbols", "per_symbol", "last_store_update_ts", "topics"} <= set(body)
    assert body["symbols"] == list(SYMBOLS)
    assert isinstance(body["last_store_update_ts"], float)
    per_symbol = {(row["symbol"], row["interval"]): row for row in body["per_symbol"]}
    configured = {(s, i) for s in SYMBOLS for i in INTERVALS}
    assert configured <= set(per_symbol)
    for key in configured:
        row = per_symbol[key]
        assert set(row) == {
            "symbol",
            "interval",
            "count",
            "last_candle_time",
            "last_close",
            "last_open",
            "last_high",
            "last_low",
        }
        assert row["count"] == BUFFER
        assert isinstance(row["last_candle_time"], int)
        assert row["last_low"] <= min(row["last_open"], row["last_close"]) <= row["last_high"]
    assert body["topics"]
    assert all(topic["continuous"] is True for topic in body["topics"])


# -- WS /ws/candles ------------------------------------------------------------------
async def test_ws_candles_subscribe_streams_candle_messages(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws/candles") as ws:
        await ws.send(dumps({"symbol": "BTCUSDT", "interval": "1m"}))
        seen = await receive_until(ws, is_candle("BTCUSDT", "1m"))
        candles = [m for m in seen if m["type"] == "candle"]
        candles += [m for m in await gather_for(ws, 0.6) if m["type"] == "candle"]
        assert len(candles) >= 2
        for message in candles:
            assert set(message) == {"type", "symbol", "interval", "candle"}
            assert (message["symbol"], message["interval"]) == ("BTCUSDT", "1m")
            candle = message["candle"]
            assert set(candle) == WS_CANDLE_KEYS
            assert candle["time"] < 10**11
            assert candle["time"] % 60 == 0
            assert isinstance(candle["is_closed"], bool)


async def test_ws_candles_adds_topics_and_a_subscriptions_list_replaces_them(
    hub: Running,
) -> None:
    async with connect(f"{hub.ws}/ws/candles") as ws:
        await ws.send(dumps({"symbol": "BTCUSDT", "interval": "1m"}))
        await ws.send(dumps({"symbol": "ETHUSDT", "interval": "5m"}))
        seen: set[tuple[str, str]] = set()
        async with asyncio.timeout(8):
            while len(seen) < 2:
                message = await receive(ws)
                if message["type"] == "candle":
                    seen.add((message["symbol"], message["interval"]))
        assert seen == {("BTCUSDT", "1m"), ("ETHUSDT", "5m")}

        replacement = [
            {"symbol": "ETHUSDT", "interval": "1m"},
            {"symbol": "ETHUSDT", "interval": "5m"},
        ]
        await ws.send(dumps({"subscriptions": replacement}))
        await gather_for(ws, 0.5)  # grace: frames already in flight
        after = await gather_for(ws, 1.5)
        topics = {(m["symbol"], m["interval"]) for m in after if m["type"] == "candle"}
        assert topics == {("ETHUSDT", "1m"), ("ETHUSDT", "5m")}


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ('{"interval": "1m"}', None),
        ('{"subscriptions": [{"interval": "1m"}]}', None),
        ('{"symbol": "BTCUSDT", "interval": "1D"}', ("valid_intervals", "1m")),
        ('{"symbol": "BTCXUSDT", "interval": "1m"}', ("suggestions", "BTCUSDT")),
    ],
    ids=["not-json", "not-object", "no-symbol", "no-symbol-in-list", "bad-interval", "unknown"],
)
async def test_ws_candles_bad_messages_get_an_error_and_the_socket_stays_usable(
    hub: Running, raw: str, detail: tuple[str, str] | None
) -> None:
    async with connect(f"{hub.ws}/ws/candles") as ws:
        await ws.send(raw)
        error = await receive(ws)
        assert error["type"] == "error"
        assert isinstance(error["message"], str)
        assert error["message"]
        if detail is not None:
            key, value = detail
            assert value in error[key]
        await ws.send(dumps({"symbol": "ETHUSDT", "interval": "1m"}))
        await receive_until(ws, is_candle("ETHUSDT", "1m"))


async def test_ws_candles_subscriptions_per_connection_are_capped() -> None:
    async with running_hub(
        SIM,
        symbols=SYMBOLS,
        intervals=("1m",),
        buffer_size=100,
        max_subscriptions_per_connection=2,
        feeds=(),  # candles only: no books, tapes or liquidations to run
    ) as capped:
        await wait_ready(capped.http)
        async with connect(f"{capped.ws}/ws/candles") as ws:
            for symbol, interval in [("BTCUSDT", "1m"), ("ETHUSDT", "1m"), ("BTCUSDT", "5m")]:
                await ws.send(dumps({"symbol": symbol, "interval": interval}))
            errors = [m for m in await gather_for(ws, 1.5) if m["type"] == "error"]
    assert [e["code"] for e in errors] == ["capacity_exceeded"]


async def test_ws_candles_route_is_not_taken_for_a_symbol(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws/candles") as ws:
        assert await gather_for(ws, 0.5) == []  # no historical, no unknown-symbol error
        await ws.send(dumps({"subscriptions": [{"symbol": "BTCUSDT", "interval": "1m"}]}))
        await receive_until(ws, is_candle("BTCUSDT", "1m"))
        assert ws.close_code is None


# -- WS /ws/candles/{symbol} ---------------------------------------------------------
@pytest.mark.parametrize(("query", "interval"), [("", "1m"), ("?interval=5m", "5m")])
async def test_ws_candles_symbol_streams_that_topic_only(
    hub: Running, query: str, interval: str
) -> None:
    async with connect(f"{hub.ws}/ws/candles/ETHUSDT{query}") as ws:
        messages = [await receive(ws)] + await gather_for(ws, 1.0)
        assert len(messages) >= 3
        for message in messages:
            assert is_candle("ETHUSDT", interval)(message), message
            assert set(message["candle"]) == WS_CANDLE_KEYS


async def test_ws_candles_symbol_unknown_symbol_errors_then_closes_4000(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws/candles/NOPEUSDT") as ws:
        assert (await receive(ws))["type"] == "error"
        closed = await closed_with(ws)
        assert closed.rcvd is not None
        assert closed.rcvd.code == 4000


# -- WS /ws/{symbol} -----------------------------------------------------------------
async def test_ws_symbol_sends_historical_then_live_candles_without_a_gap(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws/BTCUSDT", max_size=2**24) as ws:
        first = await receive(ws)
        assert set(first) == {"type", "symbol", "data"}
        assert (first["type"], first["symbol"]) == ("historical", "BTCUSDT")
        data = first["data"]
        assert 0 < len(data) <= 720
        assert all(set(row) == WS_CANDLE_KEYS for row in data)
        last_historical = data[-1]["time"]
        assert last_historical > 10**12  # milliseconds

        # Follow until a candle opened after the history has closed.
        live = await receive_until(
            ws, lambda m: m.get("is_closed") is True and m["time"] > last_historical
        )
    assert all(set(m) == LIVE_KEYS for m in live)
    assert all((m["type"], m["symbol"]) == ("live_candle", "BTCUSDT") for m in live)
    assert live[0]["time"] >= last_historical

    series = {row["time"]: row for row in data}
    for message in live:
        series[message["time"]] = {k: message[k] for k in WS_CANDLE_KEYS}
    times = sorted(series)
    assert steps(times) == {60_000}
    assert (
        assert_closed_rows_match_truth(hub.sim, "BTCUSDT", "1m", series, "is_closed")
        >= len(times) - 1
    )


async def test_ws_symbol_echoes_the_exchange_id(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws/ethusdt", max_size=2**24) as ws:
        historical = await receive(ws)
        live = await receive(ws)
    assert (historical["type"], historical["symbol"]) == ("historical", "ETHUSDT")
    assert (live["type"], live["symbol"]) == ("live_candle", "ETHUSDT")


async def test_ws_symbol_unknown_symbol_errors_then_closes_4000(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws/NOPEUSDT") as ws:
        error = await receive(ws)
        assert error["type"] == "error"
        assert "NOPEUSDT" in error["message"]
        closed = await closed_with(ws)
        assert closed.rcvd is not None
        assert closed.rcvd.code == 4000


async def test_ws_symbol_historical_is_capped_at_720_candles() -> None:
    async with running_hub(
        SIM, symbols=("BTCUSDT",), intervals=("1m",), buffer_size=800, feeds=()
    ) as big:
        await wait_ready(big.http)
        async with connect(f"{big.ws}/ws/BTCUSDT", max_size=2**24) as ws:
            first = await receive(ws)
    data = first["data"]
    assert len(data) == 720
    assert steps([row["time"] for row in data]) == {60_000}
    # The newest 720, not the oldest: its last candle is the one still forming.
    assert data[-1]["time"] >= START_MS
