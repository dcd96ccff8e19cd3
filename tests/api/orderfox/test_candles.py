"""OrderFox's chart data (docs/orderfox.md): candle sockets and ``GET /api/v1/candles``.

One hub over the simulator is shared by the module (1m candles close every real second);
each test opens its own sockets. Closed candles are compared with the simulator's ground
truth, so "continuous and exact" means exactly that.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from marketcast.api.app import create_app
from marketcast.api.orderfox.candles import candle_count
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.contracts import SYMBOL_FIELDS
from support.follow import ChartSeries, Follower, Row
from support.servers import Running, hub_settings, running_hub, serve_app, wait_ready
from support.truth import assert_equals_truth
from support.wsio import closed_with, connect, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
BUFFER = 1000  # room for the largest chart (1000 candles)
SIM = SimConfig(
    seed=23,
    symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    start_ms=START_MS,
    speed=60.0,
    push_interval_s=0.2,
)
ROW_KEYS = {"timestamp", "time", "open", "high", "low", "close", "volume", "closed"}
HISTORY_KEYS = {"type", "symbol", "timeframe", "data", "count", "time_range", "symbolData"}
UPDATE_KEYS = {"type", "symbol", "timeframe", "stream_timestamp"} | ROW_KEYS
BTC_PRICE_FORMAT = {"type": "price", "precision": 2, "minMove": 0.01}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    # Candles only: the books' and trades' simulated flow at 60x is not what this tests.
    async with running_hub(
        SIM, symbols=("BTCUSDT", "ETHUSDT"), buffer_size=BUFFER, feeds=()
    ) as running:
        await wait_ready(running.http, timeout=60)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=15.0) as http:
        yield http


def of_type(kind: str) -> Callable[[Json], bool]:
    return lambda message: message.get("type") == kind


def assert_row_shape(row: Json) -> None:
    assert set(row) >= ROW_KEYS
    assert isinstance(row["time"], int), "time must never be missing or null"
    assert row["timestamp"] == row["time"] * 1000
    assert all(isinstance(row[k], float) for k in ("open", "high", "low", "close", "volume"))


def chart_rows(series: ChartSeries) -> Callable[[Row], Row | None]:
    """How a chart applies OrderFox messages: the history folds in, updates upsert."""

    def extract(message: Row) -> Row | None:
        if message.get("type") == "historical_candles":
            for row in message["data"]:
                series.apply(row)
            return None
        return message if message.get("type") == "candle_update" else None

    return extract


# -- the socket ----------------------------------------------------------------------
async def test_history_then_updates_have_the_contract_shape(hub: Running) -> None:
    url = f"{hub.ws}/api/v1/ws/candles/BTCUSDT/1m?container_width=800"
    async with connect(url, max_size=2**24) as ws:
        history = await receive(ws, timeout=15)
        assert set(history) == HISTORY_KEYS
        assert (history["type"], history["symbol"], history["timeframe"]) == (
            "historical_candles",
            "BTCUSDT",
            "1m",
        )
        data = history["data"]
        assert history["count"] == len(data) == 400
        for row in data:
            assert_row_shape(row)
        assert {b["time"] - a["time"] for a, b in itertools.pairwise(data)} == {60}
        assert history["time_range"] == {
            "start": data[0]["timestamp"],
            "end": data[-1]["timestamp"],
        }
        assert set(history["symbolData"]) >= SYMBOL_FIELDS
        assert history["symbolData"]["priceFormat"] == BTC_PRICE_FORMAT

        update = (await receive_until(ws, of_type("candle_update"), timeout=10))[-1]
        assert set(update) == UPDATE_KEYS
        assert (update["symbol"], update["timeframe"]) == ("BTCUSDT", "1m")
        assert_row_shape(update)
        assert update["time"] >= data[-1]["time"]
        assert isinstance(update["stream_timestamp"], int)


async def test_query_form_echoes_the_exchange_id_and_defaults_to_1m(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/candles/eth-usdt") as ws:
        history = await receive(ws, timeout=15)
        assert (history["symbol"], history["timeframe"]) == ("ETHUSDT", "1m")
        assert history["count"] == 400  # no container_width: OrderFox's default 800 px
        update = (await receive_until(ws, of_type("candle_update"), timeout=10))[-1]
        assert (update["symbol"], update["timeframe"]) == ("ETHUSDT", "1m")


async def test_query_form_serves_the_timeframe_asked_for_on_demand(hub: Running) -> None:
    url = f"{hub.ws}/api/v1/ws/candles/btcusdt?timeframe=5m&container_width=500"
    async with connect(url, max_size=2**24) as ws:
        history = await receive(ws, timeout=30)
        assert (history["symbol"], history["timeframe"]) == ("BTCUSDT", "5m")
        assert history["count"] == 250
        times = [row["time"] for row in history["data"]]
        assert {b - a for a, b in itertools.pairwise(times)} == {300}


@pytest.mark.parametrize(
    ("width", "count"),
    [(None, 400), ("1", 200), ("399", 200), ("800", 400), ("1601.9", 800), ("5000", 1000)],
)
async def test_container_width_sets_the_candle_count_clamped_to_200_1000(
    hub: Running, width: str | None, count: int
) -> None:
    query = "" if width is None else f"?container_width={width}"
    async with connect(f"{hub.ws}/api/v1/ws/candles/BTCUSDT/1m{query}", max_size=2**24) as ws:
        history = await receive(ws, timeout=15)
        assert history["count"] == len(history["data"]) == count


async def test_candle_count_is_half_the_width_within_200_and_1000() -> None:
    assert [candle_count(w) for w in (None, 0, 400, 401, 402, 2000, 2002)] == [
        400,
        200,
        200,
        200,
        201,
        1000,
        1000,
    ]


async def test_history_and_updates_form_a_continuous_series_equal_to_the_exchange(
    hub: Running,
) -> None:
    series = ChartSeries()
    follower = Follower(series, chart_rows(series))
    await follower.start(f"{hub.ws}/api/v1/ws/candles/BTCUSDT/1m?container_width=600", [])
    closed_updates = 0
    try:
        for _ in range(300):  # 30 s at most; 1m candles close every real second
            closed_updates = sum(1 for m in follower.received[1:] if m.get("closed"))
            if closed_updates >= 4:
                break
            await asyncio.sleep(0.1)
    finally:
        await follower.stop()
    assert closed_updates >= 4, "closed candles did not arrive as updates"
    first = follower.received[0]
    assert first["type"] == "historical_candles"
    updates = follower.received[1:]
    assert updates
    assert all(m["type"] == "candle_update" for m in updates)
    assert all(isinstance(m["time"], int) for m in updates)
    assert len(series.rows) > first["count"], "no live candle beyond the history"
    assert_equals_truth(series, hub.sim, "BTCUSDT", Interval.parse("1m"))


# -- refusals ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/ws/candles/BTCUSDT/1x",
        "/api/v1/ws/candles/BTCUSDT/1D",
        "/api/v1/ws/candles/BTCUSDT?timeframe=2m",
        "/api/v1/ws/candles/BTCUSDT/1m?container_width=wide",
        "/api/v1/ws/candles/BTCUSDT/1m?container_width=0",
        "/api/v1/ws/candles/BTCUSDT?container_width=-800",
        "/api/v1/ws/candles/BTCUSDT?container_width=nan",
    ],
)
async def test_an_invalid_query_is_an_error_then_close_1008_with_a_reason(
    hub: Running, path: str
) -> None:
    async with connect(hub.ws + path) as ws:
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["code"] in {"invalid_interval", "invalid_request"}
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert closed.rcvd.reason, "the close says what was wrong"


async def test_an_unknown_symbol_is_an_error_with_suggestions_then_close_4000(
    hub: Running,
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/candles/BTCXUSDT/1m") as ws:
        error = await receive(ws)
        assert error["type"] == "error"
        assert "BTCXUSDT" in error["message"]
        assert "BTCUSDT" in error["suggestions"]
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4000


# -- REST ----------------------------------------------------------------------------
async def test_rest_candles_have_the_socket_rows_and_price_format(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/candles/btcusdt", params={"timeframe": "1m", "limit": 50})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"symbol", "timeframe", "data", "count", "time_range", "priceFormat"}
    assert (body["symbol"], body["timeframe"]) == ("BTCUSDT", "1m")
    assert body["count"] == len(body["data"]) == 50
    for row in body["data"]:
        assert_row_shape(row)
    assert all(row["closed"] for row in body["data"][:-1])
    assert body["time_range"] == {
        "start": body["data"][0]["timestamp"],
        "end": body["data"][-1]["timestamp"],
    }
    assert body["priceFormat"] == BTC_PRICE_FORMAT


async def test_rest_candles_default_to_1m_and_200(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/candles/ETHUSDT")).json()
    assert (body["timeframe"], body["count"]) == ("1m", 200)


async def test_rest_limit_bounds_are_1_and_the_buffer_size(client: httpx.AsyncClient) -> None:
    one = await client.get("/api/v1/candles/BTCUSDT", params={"limit": 1})
    full = await client.get("/api/v1/candles/BTCUSDT", params={"limit": BUFFER})
    assert (one.json()["count"], full.json()["count"]) == (1, BUFFER)


@pytest.mark.parametrize("limit", ["0", "-3", str(BUFFER + 1), "many"])
async def test_rest_limit_outside_1_to_buffer_is_a_400_envelope(
    client: httpx.AsyncClient, limit: str
) -> None:
    response = await client.get("/api/v1/candles/BTCUSDT", params={"limit": limit})
    assert response.status_code == 400
    body = response.json()
    assert body["status_code"] == 400
    assert f"1..{BUFFER}" in body["detail"]


async def test_rest_bad_timeframe_is_400_and_unknown_symbol_404_envelopes(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.get("/api/v1/candles/BTCUSDT", params={"timeframe": "1D"})
    assert (bad.status_code, bad.json()["status_code"]) == (400, 400)
    assert "1d" in bad.json()["detail"]
    unknown = await client.get("/api/v1/candles/BTCXUSDT")
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 404)
    assert "BTCUSDT" in unknown.json()["suggestions"]


async def test_without_a_symbol_service_the_price_format_comes_from_the_listing() -> None:
    async with SimExchange(SIM) as sim:
        app = create_app(hub_settings(sim, symbols=("BTCUSDT",), buffer_size=50), simulated=True)
        async with serve_app(app) as http:
            await wait_ready(http)
            app.state.marketcast.symbols = None  # a node without the symbol service
            ws_url = http.replace("http://", "ws://", 1)
            async with connect(f"{ws_url}/api/v1/ws/candles/BTCUSDT/1m") as ws:
                history = await receive(ws, timeout=15)
            async with httpx.AsyncClient(base_url=http) as client:
                body = (await client.get("/api/v1/candles/BTCUSDT")).json()
    symbol = history["symbolData"]
    assert symbol["priceFormat"] == BTC_PRICE_FORMAT
    assert symbol["roundingOptions"] == [0.01], "no ticker price: the tick is the only option"
    assert symbol["volume24h"] == 0
    assert body["priceFormat"] == BTC_PRICE_FORMAT
