"""``/signals``, ``/indicators`` and the native ``indicators`` channel over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import pytest_asyncio
import talib
from numpy.typing import NDArray

from marketcast.domain.intervals import DAY_MS, Interval
from marketcast.exchanges.sim import SimConfig
from support.servers import Running, running_hub, wait_ready
from support.wsio import connect, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 12 * 3_600_000  # 2024-05-01 12:00 UTC
BUFFER = 120
ALL_NAMES = "ema20,sma50,rsi14,macd,bb20,atr14,vwap"
M1 = Interval.parse("1m")
# A paused exchange: every request sees the same series, so values can be compared.
PAUSED = SimConfig(
    seed=3,
    symbols=("BTCUSDT", "ETHUSDT", "TIAUSDT"),
    start_ms=START_MS,
    start_paused=True,
    trends={"BTCUSDT": 0.08, "ETHUSDT": -0.08},
)
LIVE = SimConfig(
    seed=23, symbols=("BTCUSDT", "ETHUSDT"), start_ms=START_MS, speed=60.0, push_interval_s=0.2
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def paused() -> AsyncIterator[Running]:
    async with running_hub(
        PAUSED,
        symbols=("BTCUSDT", "ETHUSDT"),
        intervals=("1m", "4h"),
        buffer_size=BUFFER,
        feeds=(),  # candles only: no books, tapes or liquidations to run
    ) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live() -> AsyncIterator[Running]:
    symbols = ("BTCUSDT", "ETHUSDT")
    async with running_hub(
        LIVE, symbols=symbols, intervals=("1m",), buffer_size=BUFFER, feeds=()
    ) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(paused: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=paused.http, timeout=10.0) as http:
        yield http


def column(points: list[Json], field: str = "value") -> NDArray[np.float64]:
    return np.array([np.nan if p[field] is None else p[field] for p in points], dtype=float)


def assert_close(
    ours: NDArray[np.float64], reference: NDArray[np.float64], scale: float | None = None
) -> None:
    both = ~np.isnan(reference)
    assert not np.isnan(ours[both]).any()
    denominator = np.abs(reference[both]) if scale is None else scale
    assert float(np.max(np.abs(ours[both] - reference[both]) / denominator)) <= 1e-9


def talib_series(candles: list[Json]) -> dict[str, dict[str, NDArray[np.float64]]]:
    c = np.array([r["close"] for r in candles], dtype=float)
    h = np.array([r["high"] for r in candles], dtype=float)
    lo = np.array([r["low"] for r in candles], dtype=float)
    macd, signal, histogram = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0)
    return {
        "ema20": {"value": talib.EMA(c, 20)},
        "sma50": {"value": talib.SMA(c, 50)},
        "rsi14": {"value": talib.RSI(c, 14)},
        "atr14": {"value": talib.ATR(h, lo, c, 14)},
        "macd": {"macd": macd, "signal": signal, "histogram": histogram},
        "bb20": {"upper": upper, "middle": middle, "lower": lower},
    }


def assert_series_equal_talib(series: dict[str, list[Json]], candles: list[Json]) -> None:
    scale = float(np.mean([r["close"] for r in candles]))
    for name, fields in talib_series(candles).items():
        for field, reference in fields.items():
            assert_close(column(series[name], field), reference, scale if name == "macd" else None)


# -- /indicators ---------------------------------------------------------------------
async def test_indicators_align_with_candles_and_equal_talib(client: httpx.AsyncClient) -> None:
    candles = (await client.get("/candles/BTCUSDT/1m", params={"limit": BUFFER})).json()["candles"]
    response = await client.get(
        "/indicators/BTCUSDT/1m", params={"names": ALL_NAMES, "limit": BUFFER}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "BTCUSDT"
    assert body["interval"] == "1m"
    assert body["names"] == ALL_NAMES.split(",")
    times = [c["time"] for c in candles]
    for name in body["names"]:
        assert [p["time"] for p in body["series"][name]] == times, name
    assert not candles[-1]["closed"]  # the forming candle's values include it
    assert_series_equal_talib(body["series"], candles)


async def test_vwap_restarts_at_each_utc_day(client: httpx.AsyncClient) -> None:
    candles = (await client.get("/candles/BTCUSDT/1m", params={"limit": BUFFER})).json()["candles"]
    series = (await client.get("/indicators/BTCUSDT/1m", params={"names": "vwap"})).json()[
        "series"
    ]["vwap"]
    weighted = volume = 0.0
    expected = []
    for row in candles:
        if row["time"] * 1000 % DAY_MS == 0:
            weighted = volume = 0.0
        weighted += (row["high"] + row["low"] + row["close"]) / 3 * row["volume"]
        volume += row["volume"]
        expected.append(weighted / volume)
    assert_close(column(series), np.array(expected))


async def test_limit_keeps_the_newest_points_like_candles(client: httpx.AsyncClient) -> None:
    candles = (await client.get("/candles/BTCUSDT/1m", params={"limit": 5})).json()["candles"]
    body = (
        await client.get("/indicators/BTCUSDT/1m", params={"names": "macd,bb20", "limit": 5})
    ).json()
    assert [p["time"] for p in body["series"]["macd"]] == [c["time"] for c in candles]
    assert set(body["series"]["macd"][0]) == {"time", "macd", "signal", "histogram"}
    assert set(body["series"]["bb20"][0]) == {"time", "upper", "middle", "lower"}


async def test_default_names_are_the_chart_set(client: httpx.AsyncClient) -> None:
    body = (await client.get("/indicators/ETHUSDT/1m", params={"limit": 3})).json()
    assert body["names"] == ["ema20", "ema50", "rsi14", "macd", "bb20", "atr14", "vwap"]


@pytest.mark.parametrize("names", ["ema", "ema20,wma9", "rsi1", "bb5000"])
async def test_bad_names_are_a_400_listing_the_valid_forms(
    client: httpx.AsyncClient, names: str
) -> None:
    response = await client.get("/indicators/BTCUSDT/1m", params={"names": names})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_indicator"
    assert "ema<N>, sma<N>, rsi<N>, bb<N>, atr<N>, macd, vwap" in body["detail"]


async def test_bad_limit_interval_and_symbol_are_refused(client: httpx.AsyncClient) -> None:
    assert (
        await client.get("/indicators/BTCUSDT/1m", params={"limit": BUFFER + 1})
    ).status_code == 400
    assert (await client.get("/indicators/BTCUSDT/1x")).status_code == 400
    unknown = await client.get("/indicators/BTCUSDX/1m")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_symbol"


# -- /signals ------------------------------------------------------------------------
async def test_signals_have_smarttrades_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/signals/BTCUSDT/1m")
    assert response.status_code == 200
    body = response.json()
    smarttrade = {
        "structure",
        "regime",
        "confidence",
        "ema20",
        "ema50",
        "trend",
        "pivots",
        "zones",
        "reasoning",
    }
    assert smarttrade <= set(body)
    assert body["structure"] in {"uptrend", "downtrend", "range"}
    assert body["regime"] in {"trending", "ranging", "volatile"}
    assert body["trend"] in {"up", "down", "flat"}
    assert 0.0 <= body["confidence"] <= 1.0
    assert isinstance(body["ema20"], float)
    assert isinstance(body["ema50"], float)
    assert all(set(p) == {"time", "price", "kind"} for p in body["pivots"])
    assert all({"kind", "low", "high", "touches"} <= set(z) for z in body["zones"])
    assert all(isinstance(r, str) for r in body["reasoning"])
    assert body["reasoning"]
    candles = (await client.get("/candles/BTCUSDT/1m", params={"limit": 2})).json()["candles"]
    assert body["time"] == candles[0]["time"]  # the newest closed candle


async def test_signals_follow_the_simulated_trend(client: httpx.AsyncClient) -> None:
    up = (await client.get("/signals/BTCUSDT/4h")).json()
    down = (await client.get("/signals/ETHUSDT/4h")).json()
    assert (up["structure"], up["trend"]) == ("uptrend", "up")
    assert (down["structure"], down["trend"]) == ("downtrend", "down")


async def test_signals_are_a_404_below_twenty_candles(client: httpx.AsyncClient) -> None:
    # TIAUSDT was listed 30 days before the start: a handful of weekly candles.
    response = await client.get("/signals/TIAUSDT/1w")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_enough_data"
    assert body["detail"].startswith("not enough candles: have ")
    assert body["detail"].endswith(", need 20")


# -- WS /ws, channel indicators ------------------------------------------------------
def subscribe(**fields: Any) -> str:
    message = {"op": "subscribe", "channel": "indicators", "symbol": "BTCUSDT", "interval": "1m"}
    return orjson.dumps(message | fields).decode()


async def test_the_indicators_channel_sends_a_snapshot_then_each_update(live: Running) -> None:
    async with connect(f"{live.ws}/ws") as ws:
        await ws.send(subscribe(names=["ema20", "macd"], limit=30))
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["channel"] == "indicators"
        assert snapshot["names"] == ["ema20", "macd"]
        assert len(snapshot["series"]["ema20"]) == 30
        last_time = snapshot["series"]["ema20"][-1]["time"]
        updates = await receive_until(
            ws, lambda m: m.get("closed") is True and m["time"] >= last_time
        )
        for update in updates:
            assert update["type"] == "indicators"
            assert update["symbol"] == "BTCUSDT"
            assert update["interval"] == "1m"
            assert update["time"] >= last_time
            assert isinstance(update["values"]["ema20"], float)
            assert set(update["values"]["macd"]) == {"macd", "signal", "histogram"}
        closed = updates[-1]
        async with httpx.AsyncClient(base_url=live.http) as http:
            body = (await http.get("/indicators/BTCUSDT/1m", params={"names": "ema20,macd"})).json()
        at = {p["time"]: p for p in body["series"]["ema20"]}
        assert at[closed["time"]]["value"] == closed["values"]["ema20"]


async def test_the_indicators_channel_refuses_bad_names_and_stays_up(live: Running) -> None:
    async with connect(f"{live.ws}/ws") as ws:
        await ws.send(subscribe(names="ema20,nope"))
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["code"] == "invalid_indicator"
        await ws.send('{"op":"ping"}')
        await receive_until(ws, lambda m: m.get("type") == "pong")


# -- through upstream faults ---------------------------------------------------------
async def settle(running: Running, symbol: str, minutes: int) -> None:
    """Let ``minutes`` virtual minutes pass and the hub catch up to the exchange."""
    target = running.sim.clock.now_ms() + minutes * 60_000
    async with httpx.AsyncClient(base_url=running.http) as http, asyncio.timeout(40):
        while running.sim.clock.now_ms() < target:
            await asyncio.sleep(0.05)
        while True:
            status = (await http.get("/streaming/status")).json()
            now_open = M1.floor(running.sim.clock.now_ms()) // 1000
            topic = next(t for t in status["topics"] if t["symbol"] == symbol)
            if topic["continuous"] and topic["last_time"] >= now_open - 60:
                return
            await asyncio.sleep(0.1)


async def test_values_stay_exact_through_gap_fills_and_finalizes(live: Running) -> None:
    url = "/indicators/ETHUSDT/1m"  # a topic no other test loaded: its origin is known
    async with httpx.AsyncClient(base_url=live.http, timeout=10.0) as http:
        first = (await http.get(url, params={"names": ALL_NAMES})).json()
        origin = first["series"]["ema20"][0]["time"] * 1000
        faults = live.sim.faults
        faults.skip_final(3)  # the hub must finalize those candles from REST
        await settle(live, "ETHUSDT", 2)
        faults.drop_connections()  # missed updates: a gap the hub fills from REST
        await settle(live, "ETHUSDT", 3)
        body = (await http.get(url, params={"names": ALL_NAMES})).json()
    series = {name: points[:-1] for name, points in body["series"].items()}  # closed ones
    last = series["ema20"][-1]["time"] * 1000
    truth = live.sim.truth.klines("ETHUSDT", M1, origin, last, live.sim.clock.now_ms())
    assert truth[-1].closed
    rows = [{"close": c.close, "high": c.high, "low": c.low} for c in truth]
    offset = len(rows) - len(series["ema20"])
    assert offset > 0  # the window rolled: values still count from the cache's origin
    expected = talib_series(rows)
    scale = float(np.mean([r["close"] for r in rows]))
    for name, fields in expected.items():
        for field, reference in fields.items():
            assert_close(
                column(series[name], field), reference[offset:], scale if name == "macd" else None
            )
