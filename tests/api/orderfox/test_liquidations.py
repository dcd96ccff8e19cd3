"""OrderFox's liquidations (docs/orderfox.md): the socket's envelopes, volume buckets and
heartbeat, and ``GET /api/v1/liquidation-volume``, against the simulator's forced orders.

One hub is shared by the module; it follows BTCUSDT's ``@forceOrder`` from its start, so
what it holds is every liquidation of the truth from its first one on (nothing is lost on
an undisturbed stream). ETHUSDT is listed on spot only: it has no liquidations.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection

from marketcast.api.orderfox import liquidations as orderfox_liquidations
from marketcast.domain.intervals import DAY_MS, MINUTE_MS
from marketcast.domain.liquidations import Liquidation, liquidation_payload
from marketcast.exchanges.sim import SimConfig
from support.liquidations import recomputed, truth_liquidations
from support.servers import Running, running_hub, wait_ready
from support.wsio import closed_with, connect, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SIM = SimConfig(
    seed=29,
    symbols=("BTCUSDT", "ETHUSDT"),
    futures_symbols=("BTCUSDT",),
    start_ms=START_MS,
    speed=60.0,
)
ORDER_KEYS = {
    "symbol",
    "side",
    "quantity",
    "quantityFormatted",
    "priceUsdt",
    "priceUsdtFormatted",
    "timestamp",
    "displayTime",
    "avgPrice",
    "baseAsset",
}
INITIAL_KEYS = {"type", "symbol", "data", "initial", "sample", "timestamp"}
UPDATE_KEYS = {"type", "symbol", "data", "sample", "timestamp"}
VOLUME_KEYS = {"type", "symbol", "timeframe", "data", "is_update", "sample", "timestamp"}
BUCKET_KEYS = {"time", "timestamp_ms", "count"} | {
    f"{name}{suffix}"
    for name in ("buy_volume", "sell_volume", "total_volume", "delta_volume")
    for suffix in ("", "_formatted")
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    # Liquidations only: the books' and trades' simulated flow at 60x would take most of a
    # loaded machine's share of CPU from the feed under test.
    feeds = ("liquidations",)
    async with running_hub(SIM, symbols=("BTCUSDT",), buffer_size=50, feeds=feeds) as running:
        await wait_ready(running.http, timeout=60)
        await _first_liquidation(running.http)
        yield running


async def _first_liquidation(http: str) -> None:
    """Candles can be ready before the simulated market forced its first order: the
    initial-list tests need at least one."""
    async with httpx.AsyncClient(base_url=http) as client, asyncio.timeout(60):
        while True:
            response = await client.get("/liquidations/BTCUSDT")
            if response.status_code == 200 and response.json()["liquidations"]:
                return
            await asyncio.sleep(0.1)


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=15.0) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="module")
async def amount_precision(client: httpx.AsyncClient) -> int:
    precision: int = (await client.get("/api/v1/symbols/BTCUSDT")).json()["amountPrecision"]
    return precision


def shown(liquidation: Liquidation, amount_precision: int) -> Json:
    """A truth liquidation as the socket must show it."""
    return liquidation_payload(liquidation, "BTC", amount_precision, symbol="BTCUSDT")


def of_type(kind: str) -> Any:
    return lambda message: message.get("type") == kind


async def next_order(ws: ClientConnection) -> Json:
    return (await receive_until(ws, of_type("liquidation_order"), timeout=10))[-1]


# -- the socket ----------------------------------------------------------------------
async def test_initial_list_then_one_object_per_message_equal_the_forced_orders(
    hub: Running, amount_precision: int
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/liquidations/BTCUSDT") as ws:
        initial = await receive(ws, timeout=20)
        updates = [await receive(ws, timeout=10) for _ in range(5)]
    assert set(initial) == INITIAL_KEYS
    assert (initial["type"], initial["symbol"]) == ("liquidation_order", "BTCUSDT")
    assert (initial["initial"], initial["sample"]) == (True, True)
    listed = initial["data"]
    assert 0 < len(listed) <= 50
    for update in updates:
        assert set(update) == UPDATE_KEYS
        assert (update["type"], update["symbol"], update["sample"]) == (
            "liquidation_order",
            "BTCUSDT",
            True,
        )
    rows = listed[::-1] + [update["data"] for update in updates]
    for row in rows:
        assert set(row) == ORDER_KEYS
    truth = truth_liquidations(hub.sim, "BTCUSDT", rows[0]["timestamp"], rows[-1]["timestamp"])
    # Newest first, then every later one once, in order: nothing missing, nothing twice.
    assert rows == [shown(item, amount_precision) for item in truth]


async def test_with_a_timeframe_buckets_follow_and_equal_a_recount_of_the_truth(
    hub: Running, amount_precision: int
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/liquidations/BTCUSDT?timeframe=1m") as ws:
        initial = await receive(ws, timeout=20)
        volume = await receive(ws, timeout=10)
        live = [await receive(ws, timeout=10) for _ in range(8)]
    assert initial["type"] == "liquidation_order"
    assert set(volume) == VOLUME_KEYS
    assert (volume["type"], volume["symbol"], volume["timeframe"]) == (
        "liquidation_volume",
        "BTCUSDT",
        "1m",
    )
    assert (volume["is_update"], volume["sample"]) == (False, True)
    for bucket in volume["data"]:
        assert set(bucket) == BUCKET_KEYS
    # The buckets hold every liquidation since the hub started: the truth's last ``held``
    # up to the newest listed one.
    held = sum(bucket["count"] for bucket in volume["data"])
    newest = initial["data"][0]["timestamp"]
    everything = truth_liquidations(hub.sim, "BTCUSDT", START_MS, newest)
    counted = everything[len(everything) - held :]
    assert volume["data"] == [b.to_json() for b in recomputed(counted, "1m").range(0, 2**62)]

    # Then each liquidation_order is followed by its bucket, brought up to date.
    assert [m["type"] for m in live] == ["liquidation_order", "liquidation_volume"] * 4
    orders = live[0::2]
    for order, update in zip(orders, live[1::2], strict=True):
        assert set(update) == VOLUME_KEYS
        assert (update["is_update"], update["timeframe"]) == (True, "1m")
        when = order["data"]["timestamp"]
        so_far = counted + truth_liquidations(hub.sim, "BTCUSDT", newest + 1, when)
        expected = recomputed(so_far, "1m").range(when, when)
        assert update["data"] == [b.to_json() for b in expected]
    assert [o["data"] for o in orders] == [
        shown(item, amount_precision)
        for item in truth_liquidations(
            hub.sim, "BTCUSDT", newest + 1, orders[-1]["data"]["timestamp"]
        )
    ]


async def test_heartbeat_after_the_configured_silence(
    hub: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    period = 0.5
    monkeypatch.setattr(orderfox_liquidations, "HEARTBEAT_S", period)
    hub.sim.clock.pause()  # no more liquidations: the socket falls silent
    try:
        async with connect(f"{hub.ws}/api/v1/ws/liquidations/btcusdt") as ws:
            await receive(ws, timeout=20)
            quiet_since = time.monotonic()
            seen = await receive_until(ws, of_type("heartbeat"), timeout=10)
            waited = time.monotonic() - quiet_since
            second = await receive(ws, timeout=10)
    finally:
        hub.sim.clock.resume()
    heartbeat = seen[-1]
    assert set(heartbeat) == {"type", "symbol", "timestamp"}
    assert heartbeat["symbol"] == "BTCUSDT"
    assert isinstance(heartbeat["timestamp"], int)
    if len(seen) == 1:  # no liquidation was still on its way: the silence was the period
        assert waited >= period * 0.9
    assert second["type"] == "heartbeat"


async def test_ping_gets_pong_and_other_messages_an_error(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/liquidations/BTCUSDT") as ws:
        await receive(ws, timeout=20)
        await ws.send('{"type": "subscribe"}')
        assert (await receive_until(ws, of_type("error")))[-1]["code"] == "invalid_request"
        await ws.send('{"type": "ping"}')
        await receive_until(ws, of_type("pong"))
        await next_order(ws)


@pytest.mark.parametrize("timeframe", ["2m", "1M", "1w", "x"])
async def test_an_invalid_timeframe_is_an_error_then_close_1008(
    hub: Running, timeframe: str
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/liquidations/BTCUSDT?timeframe={timeframe}") as ws:
        error = await receive(ws)
        closed = await closed_with(ws)
    assert (error["type"], error["code"]) == ("error", "invalid_interval")
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008


@pytest.mark.parametrize(
    ("symbol", "code", "suggested"),
    [("BTCXUSDT", "unknown_symbol", True), ("ETHUSDT", "no_liquidations", False)],
)
async def test_an_unknown_symbol_or_one_without_a_perpetual_closes_4000(
    hub: Running, symbol: str, code: str, suggested: bool
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/liquidations/{symbol}") as ws:
        error = await receive(ws, timeout=20)
        closed = await closed_with(ws)
    assert (error["type"], error["code"]) == ("error", code)
    assert ("BTCUSDT" in error.get("suggestions", ())) is suggested
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4000


# -- GET /api/v1/liquidation-volume ------------------------------------------------------
async def held_buckets(client: httpx.AsyncClient, minimum: int) -> list[Json]:
    """The 1m buckets the hub holds, once there are at least ``minimum``."""
    params = {"start_time": START_MS, "end_time": START_MS + DAY_MS}
    async with asyncio.timeout(30):
        while True:
            response = await client.get("/api/v1/liquidation-volume/BTCUSDT/1m", params=params)
            data: list[Json] = response.json()["data"]
            if len(data) >= minimum:
                return data
            await asyncio.sleep(0.2)


async def test_rest_buckets_of_a_range_equal_a_recount_of_the_truth(
    hub: Running, client: httpx.AsyncClient
) -> None:
    held = await held_buckets(client, 4)
    # Inner buckets only: the first may have started before the hub followed the symbol,
    # the last may still be filling.
    start, end = held[1]["timestamp_ms"], held[-2]["timestamp_ms"] + MINUTE_MS - 1
    response = await client.get(
        "/api/v1/liquidation-volume/btcusdt/1m", params={"start_time": start, "end_time": end}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"symbol", "timeframe", "data", "start_time", "end_time", "sample"}
    assert (body["symbol"], body["timeframe"], body["sample"]) == ("BTCUSDT", "1m", True)
    assert (body["start_time"], body["end_time"]) == (start, end)
    truth = truth_liquidations(hub.sim, "BTCUSDT", start, end)
    assert body["data"] == [b.to_json() for b in recomputed(truth, "1m").range(start, end)]
    assert len(body["data"]) == len(held) - 2
    for bucket in body["data"]:
        assert set(bucket) == BUCKET_KEYS


async def test_rest_range_defaults_to_the_24h_before_now(client: httpx.AsyncClient) -> None:
    before = int(time.time() * 1000)
    body = (await client.get("/api/v1/liquidation-volume/BTCUSDT/5m")).json()
    after = int(time.time() * 1000)
    # The simulated clock is in 2024, behind this host's: "now" is the host's clock.
    assert before <= body["end_time"] <= after
    assert body["start_time"] == body["end_time"] - DAY_MS
    assert body["data"] == []
    only_end = {"end_time": START_MS + DAY_MS}
    body = (await client.get("/api/v1/liquidation-volume/BTCUSDT/1h", params=only_end)).json()
    assert (body["start_time"], body["end_time"]) == (START_MS, START_MS + DAY_MS)
    assert body["data"], "the hub's liquidations lie in the day after START_MS"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("BTCUSDT/2m", {}),
        ("BTCUSDT/1M", {}),
        ("BTCUSDT/1m", {"start_time": "soon"}),
        ("BTCUSDT/1m", {"start_time": START_MS + MINUTE_MS, "end_time": START_MS}),
        ("BTCUSDT/1m", {"start_time": START_MS, "end_time": START_MS}),
    ],
)
async def test_rest_bad_timeframe_or_range_is_a_400_envelope(
    client: httpx.AsyncClient, path: str, params: dict[str, str | int]
) -> None:
    response = await client.get(f"/api/v1/liquidation-volume/{path}", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status_code"] == 400
    assert body["detail"]


@pytest.mark.parametrize(("symbol", "suggested"), [("BTCXUSDT", True), ("ETHUSDT", False)])
async def test_rest_unknown_symbol_or_no_perpetual_is_a_404_envelope(
    client: httpx.AsyncClient, symbol: str, suggested: bool
) -> None:
    response = await client.get(f"/api/v1/liquidation-volume/{symbol}/1m")
    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 404
    assert body["detail"]
    assert ("BTCUSDT" in body.get("suggestions", ())) is suggested
