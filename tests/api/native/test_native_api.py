"""The native API and its client sync rules (docs/native.md) over real sockets.

One hub is shared by the module; hubs with other settings (auth, caps) are started by the
tests that need them.
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
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from marketcast.exchanges.sim import SimConfig
from support.servers import Running, running_hub, wait_ready
from support.wsio import closed_with, connect, gather_for, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
BUFFER = 200
SYMBOLS = ("BTCUSDT", "ETHUSDT")
SIM = SimConfig(
    seed=23,
    symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    start_ms=START_MS,
    speed=60.0,
    push_interval_s=0.2,
)
CANDLE_KEYS = {"time", "open", "high", "low", "close", "volume", "closed"}
TOKEN = "s3cret"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(SIM, symbols=SYMBOLS, intervals=("1m",), buffer_size=BUFFER) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=10.0) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def guarded() -> AsyncIterator[Running]:
    """A hub that requires ``TOKEN``."""
    # Candles only: access control is the same for every feed, and the books' and trades'
    # simulated flow at 60x is most of a loaded machine's share of CPU.
    async with running_hub(
        SIM, symbols=("BTCUSDT",), intervals=("1m",), buffer_size=100, auth_token=TOKEN, feeds=()
    ) as running:
        await wait_ready(running.http)
        yield running


# -- helpers -------------------------------------------------------------------------
def subscribe(symbol: str, interval: str = "1m", **extra: Any) -> str:
    message = {"op": "subscribe", "channel": "candles", "symbol": symbol, "interval": interval}
    return orjson.dumps(message | extra).decode()


def of_type(kind: str, symbol: str | None = None) -> Callable[[Json], bool]:
    def wanted(message: Json) -> bool:
        return message.get("type") == kind and symbol in (None, message.get("symbol"))

    return wanted


async def snapshot_of(ws: ClientConnection, symbol: str) -> Json:
    return (await receive_until(ws, of_type("snapshot", symbol)))[-1]


async def assert_still_serving(ws: ClientConnection) -> None:
    await ws.send('{"op":"ping"}')
    await receive_until(ws, of_type("pong"))


def steps(times: list[int]) -> set[int]:
    return {b - a for a, b in itertools.pairwise(times)}


async def wait_for_closed(
    client: httpx.AsyncClient, symbol: str, open_time_s: int, timeout: float = 10.0
) -> None:
    """Until the hub stores the candle opening at ``open_time_s`` as closed."""
    async with asyncio.timeout(timeout):
        while True:
            response = await client.get(f"/candles/{symbol}/1m", params={"limit": 10})
            closed = [r["time"] for r in response.json()["candles"] if r["closed"]]
            if closed and closed[-1] >= open_time_s:
                return
            await asyncio.sleep(0.1)


# -- REST ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/candles/BTCUSDT/1m?limit=1_0",
        "/candles/BTCUSDT/1m?since=-5",
        "/trades/BTCUSDT?since=-1",
        "/liquidations/BTCUSDT?timeframe=5m&end_time=-5",
        "/liquidations/BTCUSDT?timeframe=5m&start_time=1714521600&end_time=1714521600",
        "/liquidations/BTCUSDT?timeframe=5m&start_time=1714525200&end_time=1714521600",
    ],
)
async def test_loose_numbers_and_empty_time_ranges_are_a_400(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 400, response.text


async def test_ready_reports_a_complete_bootstrap(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["bootstrap"]["done"] == body["bootstrap"]["total"] == len(SYMBOLS)


async def test_candles_since_and_before_select_by_open_time(client: httpx.AsyncClient) -> None:
    rows = (await client.get("/candles/BTCUSDT/1m", params={"limit": 20})).json()["candles"]
    pivot = rows[5]["time"]
    since = (await client.get("/candles/BTCUSDT/1m", params={"since": pivot, "limit": 3})).json()
    assert [r["time"] for r in since["candles"]] == [pivot, pivot + 60, pivot + 120]
    in_ms = {"since": pivot * 1000, "limit": 3}
    assert (await client.get("/candles/BTCUSDT/1m", params=in_ms)).json() == since
    before = (await client.get("/candles/BTCUSDT/1m", params={"before": pivot, "limit": 2})).json()
    assert [r["time"] for r in before["candles"]] == [pivot - 120, pivot - 60]
    bad = await client.get("/candles/BTCUSDT/1m", params={"since": "yesterday"})
    assert bad.status_code == 400


# A "/" cannot travel in a path segment, so REST clients use the other spellings.
@pytest.mark.parametrize("given", ["btcusdt", "BTC-USDT", "btc_usdt"])
async def test_rest_symbols_are_normalised(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get(f"/candles/{given}/1m", params={"limit": 1})
    assert response.status_code == 200
    assert response.json()["symbol"] == "BTCUSDT"


# -- WS /ws --------------------------------------------------------------------------
async def test_subscribe_sends_a_snapshot_then_candle_updates(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(subscribe("ETHUSDT", limit=30))
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot"
        assert (snapshot["channel"], snapshot["symbol"], snapshot["interval"]) == (
            "candles",
            "ETHUSDT",
            "1m",
        )
        assert snapshot["reset"] is False
        candles = snapshot["candles"]
        assert len(candles) == 30
        assert all(set(row) == CANDLE_KEYS for row in candles)
        assert steps([row["time"] for row in candles]) == {60}
        last = candles[-1]["time"]

        updates = await receive_until(ws, lambda m: m["candle"]["closed"] is True)
    now_ms = hub.sim.clock.now_ms()
    for update in updates:
        assert set(update) == {
            "type", "channel", "market", "symbol", "interval", "candle", "event_time"
        }  # fmt: skip
        assert update["market"] == "spot"
        assert (update["type"], update["channel"], update["symbol"]) == (
            "candle",
            "candles",
            "ETHUSDT",
        )
        assert set(update["candle"]) == CANDLE_KEYS
        assert update["candle"]["time"] >= last  # nothing older than the snapshot's tail
    # Pushed updates carry the exchange's event time: within the candle, never ahead of
    # the exchange's clock (a REST-filled one would say null).
    pushed = [u for u in updates if u["event_time"] is not None]
    assert pushed
    assert all(u["candle"]["time"] * 1000 <= u["event_time"] <= now_ms for u in pushed)


async def test_ping_gets_a_pong(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send('{"op":"ping"}')
        assert await receive(ws) == {"type": "pong"}


async def test_batch_ms_sends_every_frame_as_an_array_of_messages(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws?batch_ms=300") as ws:
        await ws.send(subscribe("ETHUSDT", limit=5))
        await ws.send(subscribe("BTCUSDT", limit=5))
        await ws.send('{"op":"ping"}')
        frames: list[list[Json]] = []
        async with asyncio.timeout(10):
            while sum(len(f) for f in frames) < 12:
                frame = orjson.loads(await ws.recv())
                assert isinstance(frame, list)
                assert frame
                frames.append(frame)
    messages = [m for frame in frames for m in frame]
    kinds = [m["type"] for m in messages]
    assert kinds[:3] == ["snapshot", "snapshot", "pong"]  # order kept across frames
    assert {m["symbol"] for m in messages if m["type"] == "candle"} <= {"ETHUSDT", "BTCUSDT"}
    # Two topics push every 0.2 s: a 300 ms window always finds more than one message.
    assert any(len(frame) > 1 for frame in frames)


@pytest.mark.parametrize("value", ["abc", "-1", "1001", "1.5", "²"])
async def test_a_bad_batch_ms_closes_with_1008_and_says_why(hub: Running, value: str) -> None:
    async with connect(f"{hub.ws}/ws?batch_ms={value}") as ws:
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert "batch_ms must be an integer 0..1000" in closed.rcvd.reason


async def test_unsubscribe_stops_that_topic_only(hub: Running) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(subscribe("BTCUSDT", limit=1))
        await ws.send(subscribe("ETHUSDT", limit=1))
        await snapshot_of(ws, "BTCUSDT")
        await snapshot_of(ws, "ETHUSDT")
        await receive_until(ws, of_type("candle", "BTCUSDT"))

        await ws.send('{"op":"unsubscribe","channel":"candles","symbol":"BTCUSDT","interval":"1m"}')
        acks = await receive_until(ws, of_type("unsubscribed"))
        assert acks[-1] == {
            "type": "unsubscribed",
            "channel": "candles",
            "market": "spot",
            "symbol": "BTCUSDT",
            "interval": "1m",
        }
        after = await gather_for(ws, 1.5)
    assert not [m for m in after if m.get("symbol") == "BTCUSDT"]
    assert [m for m in after if of_type("candle", "ETHUSDT")(m)]  # the other one goes on


@pytest.mark.parametrize(
    ("raw", "code", "detail"),
    [
        ("not json", "malformed", None),
        ('{"op":"dance"}', "unknown_op", None),
        (subscribe("BTCUSDT", channel="news"), "unknown_channel", None),
        (subscribe("BTCUSDT", channel="orderbook", rounding="x"), "invalid_rounding", None),
        (subscribe("BTCUSDT", "1D"), "invalid_interval", ("valid_intervals", "1m")),
        (subscribe("BTCXUSDT"), "unknown_symbol", ("suggestions", "BTCUSDT")),
        (subscribe("BTCUSDT", limit=0), "invalid_limit", ("message", f"1..{BUFFER}")),
        (subscribe("BTCUSDT", limit=BUFFER + 1), "invalid_limit", ("message", f"1..{BUFFER}")),
        (subscribe("BTCUSDT", since="yesterday"), "malformed", ("message", "since")),
        ('{"op":"ping","pad":"' + "x" * 5000 + '"}', "too_large", None),
    ],
    ids=[
        "not-json",
        "unknown-op",
        "unknown-channel",
        "bad-rounding",
        "bad-interval",
        "unknown-symbol",
        "limit-0",
        "limit-over-buffer",
        "since-not-int",
        "too-large",
    ],
)
async def test_bad_messages_get_a_coded_error_and_the_connection_stays_up(
    hub: Running, raw: str, code: str, detail: tuple[str, str] | None
) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(raw)
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", code)
        assert error["message"]
        if detail is not None:
            key, value = detail
            assert value in error[key]
        await assert_still_serving(ws)


async def test_a_frame_past_the_frame_limit_closes_the_socket_with_1009(hub: Running) -> None:
    # Up to 16 x MAX_WS_MESSAGE_BYTES (at least 64 KiB) a message gets `too_large`; past
    # it the WebSocket layer refuses the frame without reading it.
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send('{"op":"ping","pad":"' + "x" * 70_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


@pytest.mark.parametrize("given", ["btc/usdt", "btcusdt"])
async def test_ws_symbols_are_normalised_in_every_payload(hub: Running, given: str) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(subscribe(given, limit=2))
        snapshot = await receive(ws)
        update = await receive(ws)
    assert (snapshot["type"], snapshot["symbol"]) == ("snapshot", "BTCUSDT")
    assert (update["type"], update["symbol"]) == ("candle", "BTCUSDT")


async def test_resume_with_since_continues_the_series_without_a_gap(
    hub: Running, client: httpx.AsyncClient
) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(subscribe("ETHUSDT", limit=20))
        first = await snapshot_of(ws, "ETHUSDT")
    held = {row["time"]: row for row in first["candles"]}
    since = first["candles"][-1]["time"]

    # Offline while three more candles close on the exchange.
    async with asyncio.timeout(10):
        while hub.sim.clock.now_ms() < (since + 4 * 60) * 1000:
            await asyncio.sleep(0.05)
    await wait_for_closed(client, "ETHUSDT", since + 3 * 60)

    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(subscribe("ETHUSDT", since=since))
        resumed = await snapshot_of(ws, "ETHUSDT")
        stored = (await client.get("/candles/ETHUSDT/1m", params={"limit": BUFFER})).json()
    assert resumed["reset"] is False
    rows = resumed["candles"]
    assert rows[0]["time"] == since
    assert len(rows) >= 4
    assert all(row["closed"] for row in rows[:-1])

    for row in rows:  # upsert on time, as a chart does
        held[row["time"]] = row
    times = sorted(held)
    assert steps(times) == {60}
    by_time = {row["time"]: row for row in stored["candles"]}
    for t in times:
        if held[t]["closed"]:
            assert held[t] == by_time[t]


async def test_since_older_than_the_buffer_gets_a_full_snapshot_flagged_reset(
    hub: Running,
) -> None:
    async with connect(f"{hub.ws}/ws") as ws:
        await ws.send(subscribe("BTCUSDT", limit=1))
        newest = (await snapshot_of(ws, "BTCUSDT"))["candles"][-1]["time"]
        await ws.send(subscribe("BTCUSDT", since=newest - 10 * BUFFER * 60))
        snapshot = await snapshot_of(ws, "BTCUSDT")
    assert snapshot["reset"] is True
    assert len(snapshot["candles"]) == BUFFER
    times = [row["time"] for row in snapshot["candles"]]
    assert steps(times) == {60}
    assert times[-1] >= newest


# -- limits and access ---------------------------------------------------------------
async def test_subscriptions_per_connection_are_capped() -> None:
    # Candles only: the book, trade and liquidation feeds at sixty times real time are
    # work this test never reads, and under coverage with both cores busy they held its
    # hub and simulator past the test's deadline.
    async with running_hub(
        SIM,
        symbols=SYMBOLS,
        intervals=("1m",),
        buffer_size=100,
        max_subscriptions_per_connection=2,
        feeds=(),
    ) as capped:
        await wait_ready(capped.http)
        async with connect(f"{capped.ws}/ws") as ws:
            await ws.send(subscribe("BTCUSDT", limit=1))
            await ws.send(subscribe("ETHUSDT", limit=1))
            await snapshot_of(ws, "BTCUSDT")
            await snapshot_of(ws, "ETHUSDT")
            await ws.send(subscribe("BTCUSDT", "5m", limit=1))
            error = (await receive_until(ws, of_type("error")))[-1]
            assert error["code"] == "capacity_exceeded"
            await ws.send(subscribe("BTCUSDT", limit=1))  # a resubscribe is not a third
            await snapshot_of(ws, "BTCUSDT")
            await assert_still_serving(ws)


async def test_auth_token_guards_rest_but_not_health(guarded: Running) -> None:
    async with httpx.AsyncClient(base_url=guarded.http, timeout=10.0) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/ready")).status_code == 200
        refused = await http.get("/symbols")
        assert refused.status_code == 401
        assert refused.json()["status_code"] == 401
        wrong = await http.get("/symbols", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = await http.get("/symbols", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert allowed.json() == {"symbols": ["BTCUSDT"]}


async def refusal(url: str) -> tuple[str, int] | None:
    """How a socket without a valid token is turned away: an HTTP status or a close code."""
    try:
        async with connect(url) as ws:
            await ws.send(subscribe("BTCUSDT", limit=1))
            await receive(ws)
    except InvalidStatus as refused:
        return ("http", refused.response.status_code)
    except ConnectionClosed as closed:
        return ("close", closed.rcvd.code if closed.rcvd is not None else 1006)
    return None


@pytest.mark.parametrize("query", ["", "?token=nope"])
async def test_auth_token_refuses_ws_without_a_valid_token(guarded: Running, query: str) -> None:
    assert await refusal(f"{guarded.ws}/ws{query}") in (("http", 403), ("close", 1008))


async def test_auth_token_in_the_query_opens_ws(guarded: Running) -> None:
    async with connect(f"{guarded.ws}/ws?token={TOKEN}") as ws:
        await ws.send(subscribe("BTCUSDT", limit=1))
        assert (await receive(ws))["type"] == "snapshot"


async def test_auth_lets_cors_preflight_through(guarded: Running) -> None:
    """Browsers send no credentials on a preflight; refusing it blocks every browser
    frontend on another origin that has the token (CORS + optional token)."""
    headers = {
        "Origin": "http://chart.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with httpx.AsyncClient(base_url=guarded.http, timeout=10.0) as http:
        preflight = await http.options("/symbols", headers=headers)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://chart.example")
