"""The simulator's kline streams over real loopback sockets, with the websockets client."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import InvalidStatus

from marketcast.domain.intervals import MINUTE_MS
from marketcast.exchanges.sim import FaultSchedule, SimConfig, SimExchange
from support.wsio import closed_with, connect, receive, receive_until

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
KLINE_KEYS = set("tTsifLochlvnxqVQB")


def sim(**overrides: Any) -> SimExchange:
    settings: dict[str, Any] = {"start_ms": START_MS, "speed": 60.0, "push_interval_s": 0.2}
    settings.update(overrides)
    return SimExchange(SimConfig(**settings))


def is_final(message: Any) -> bool:
    data = message.get("data", message)
    return bool(data.get("e") == "kline" and data["k"]["x"])


async def test_combined_stream_payload_has_binance_shape() -> None:
    async with (
        sim() as exchange,
        connect(f"{exchange.ws_base}/stream?streams=btcusdt@kline_1m/ethusdt@kline_1M") as ws,
    ):
        seen = {(m := await receive(ws))["stream"]: m for _ in range(2)}
        assert set(seen) == {"btcusdt@kline_1m", "ethusdt@kline_1M"}
        data = seen["btcusdt@kline_1m"]["data"]
        assert (data["e"], data["s"]) == ("kline", "BTCUSDT")
        assert set(data["k"]) == KLINE_KEYS
        k = data["k"]
        assert (k["s"], k["i"], k["x"], k["B"]) == ("BTCUSDT", "1m", False, "0")
        assert k["T"] == k["t"] + MINUTE_MS - 1
        assert k["L"] - k["f"] + 1 == k["n"]
        assert all(isinstance(k[f], str) and len(k[f].split(".")[1]) == 8 for f in "ochlvqVQ")
        assert seen["ethusdt@kline_1M"]["data"]["k"]["i"] == "1M"
        assert exchange.stats.ws_open == 1


async def test_raw_stream_sends_bare_payloads_and_answers_client_pings() -> None:
    async with sim() as exchange, connect(f"{exchange.ws_base}/ws/solusdt@kline_1s") as ws:
        message = await receive(ws)
        assert message["e"] == "kline"
        assert message["k"]["i"] == "1s"
        pong = await ws.ping()
        async with asyncio.timeout(5):
            await pong


async def test_subscribe_list_and_unsubscribe_on_a_live_connection() -> None:
    async with sim(max_incoming_per_second=50) as exchange, connect(f"{exchange.ws_base}/ws") as ws:
        await ws.send('{"method":"SUBSCRIBE","params":["btcusdt@kline_5m"],"id":7}')
        assert await receive(ws) == {"result": None, "id": 7}
        data = await receive(ws)
        assert data["k"]["i"] == "5m"
        await ws.send('{"method":"LIST_SUBSCRIPTIONS","id":8}')
        replies = await receive_until(ws, lambda m: m.get("id") == 8)
        assert replies[-1] == {"result": ["btcusdt@kline_5m"], "id": 8}
        await ws.send('{"method":"UNSUBSCRIBE","params":["btcusdt@kline_5m"],"id":9}')
        await receive_until(ws, lambda m: m.get("id") == 9)
        await ws.send('{"method":"LIST_SUBSCRIPTIONS","id":10}')
        assert await receive(ws) == {"result": [], "id": 10}
        await ws.send('{"method":"SUBSCRIBE","params":["nopeusdt@kline_1m"],"id":11}')
        error = await receive(ws)
        assert error["id"] == 11
        assert error["error"]["code"] == 2
        await ws.send("not json")
        assert (await receive(ws))["error"]["code"] == 3


async def test_each_close_is_pushed_final_once_and_equals_rest() -> None:
    async with sim() as exchange, connect(f"{exchange.ws_base}/ws/btcusdt@kline_1m") as ws:
        messages: list[Any] = []
        for _ in range(3):
            messages += await receive_until(ws, is_final)
        messages += await receive_until(ws, lambda m: not m["k"]["x"])
        finals = [m["k"] for m in messages if m["k"]["x"]]
        opens = [k["t"] for k in finals]
        assert opens == sorted(set(opens))
        assert all(b == a + MINUTE_MS for a, b in itertools.pairwise(opens))
        assert messages[-1]["k"]["t"] == opens[-1] + MINUTE_MS  # the next candle follows
        counts = [m["k"]["n"] for m in messages if m["k"]["t"] == opens[-1]]
        assert counts == sorted(counts)
        async with httpx.AsyncClient(base_url=exchange.rest_base) as client:
            rows = (await client.get("/api/v3/klines", params={
                "symbol": "BTCUSDT", "interval": "1m", "startTime": opens[0], "limit": 3,
            })).json()  # fmt: skip
        for k, row in zip(finals, rows, strict=True):
            assert [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"],
                    k["V"], k["Q"]] == row[:11]  # fmt: skip


async def test_skip_final_duplicate_and_malformed_faults() -> None:
    async with sim() as exchange, connect(f"{exchange.ws_base}/ws/btcusdt@kline_1m") as ws:
        first_final = (await receive_until(ws, is_final))[-1]["k"]["t"]
        assert exchange.faults.skip_final(1) == 1
        after = await receive_until(ws, is_final)
        assert after[-1]["k"]["t"] == first_final + 2 * MINUTE_MS  # one close never said x:true
        assert any(m["k"]["t"] == first_final + MINUTE_MS for m in after)  # its updates came
        exchange.faults.duplicate(2)
        frames = [await ws.recv() for _ in range(8)]
        repeats = [i for i in range(7) if frames[i] == frames[i + 1]]
        assert len(repeats) == 2  # updates differ at least in "E", so only copies repeat
        exchange.faults.malformed(4)
        garbage: list[str | bytes] = []
        async with asyncio.timeout(5):
            while len(garbage) < 4:
                frame = await ws.recv()
                try:
                    parsed = orjson.loads(frame)
                except orjson.JSONDecodeError:
                    garbage.append(frame)
                    continue
                if not isinstance(parsed.get("k"), dict) or not isinstance(
                    parsed["k"].get("t"), int
                ):
                    garbage.append(frame)
        assert len(garbage) == 4


async def test_stall_keeps_the_socket_open_then_resumes() -> None:
    async with sim() as exchange, connect(f"{exchange.ws_base}/ws/btcusdt@kline_1m") as ws:
        await receive(ws)
        exchange.faults.stall(1.5)
        while True:  # drain what was queued before the stall
            try:
                async with asyncio.timeout(0.3):
                    await ws.recv()
            except TimeoutError:
                break
        pong = await ws.ping()
        async with asyncio.timeout(2):
            await pong  # alive: pings answered, no data
        resumed = await receive(ws, timeout=5)
        assert resumed["e"] == "kline"


async def test_delay_holds_messages_back() -> None:
    async with sim() as exchange, connect(f"{exchange.ws_base}/ws/btcusdt@kline_1m") as ws:
        await receive(ws)
        exchange.faults.delay(1.0, duration=5.0)
        await asyncio.sleep(0.3)
        late: list[int] = []
        while len(late) < 2:
            message = await receive(ws)
            lag_ms = exchange.clock.now_ms() - message["E"]
            late.append(lag_ms)
        assert max(late) >= 30_000  # at least half a real second late at 60x


@pytest.mark.parametrize(
    ("inject", "code"),
    [
        (lambda s: s.faults.drop_connections(), None),
        (lambda s: s.faults.connection_age_limit(), 1001),
    ],
)
async def test_connections_end_as_the_fault_says(
    inject: Callable[[SimExchange], int], code: int | None
) -> None:
    async with sim() as exchange, connect(f"{exchange.ws_base}/ws/btcusdt@kline_1m") as ws:
        await receive(ws)
        assert inject(exchange) == 1
        closed = await closed_with(ws)
        assert (closed.rcvd.code if closed.rcvd else None) == code


async def test_server_shutdown_event_then_close() -> None:
    async with (
        sim() as exchange,
        connect(f"{exchange.ws_base}/stream?streams=btcusdt@kline_1m") as ws,
    ):
        await receive(ws)
        exchange.faults.server_shutdown(grace_s=0.3)
        seen = await receive_until(ws, lambda m: m.get("e") == "serverShutdown")
        assert isinstance(seen[-1]["E"], int)
        closed = await closed_with(ws)
        assert closed.rcvd is not None


async def test_downtime_drops_and_refuses_connections_until_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with sim() as exchange:
        url = f"{exchange.ws_base}/ws/btcusdt@kline_1m"
        async with connect(url) as ws:
            await receive(ws)
            exchange.clock.pause()
            exchange.faults.downtime(10 * MINUTE_MS)
            assert (await closed_with(ws)).rcvd is None
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        assert refused.value.response.status_code == 503
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, f"a denial on purpose logged as an error: {errors}"
        exchange.clock.advance(10 * MINUTE_MS)
        exchange.clock.resume()
        async with connect(url) as ws:
            assert (await receive(ws))["e"] == "kline"


async def test_chatty_clients_are_disconnected_and_bad_urls_refused() -> None:
    async with sim(max_streams_per_connection=2) as exchange:
        async with connect(f"{exchange.ws_base}/ws") as ws:
            for i in range(7):
                await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
            closed = await closed_with(ws)
            assert closed.rcvd is not None
            assert closed.rcvd.code == 1008
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{exchange.ws_base}/ws/btcusdt@kline_7m"):
                pass
        assert refused.value.response.status_code == 400
        streams = "btcusdt@kline_1m/btcusdt@kline_3m/btcusdt@kline_5m"
        with pytest.raises(InvalidStatus):
            async with connect(f"{exchange.ws_base}/stream?streams={streams}"):
                pass


async def test_scheduled_faults_fire_on_their_own() -> None:
    schedule = FaultSchedule.parse("drop@0.5s,rest_error:500@0.5s")
    async with (
        sim(faults=schedule) as exchange,
        connect(f"{exchange.ws_base}/ws/btcusdt@kline_1m") as ws,
    ):
        assert (await closed_with(ws)).rcvd is None
        async with httpx.AsyncClient(base_url=exchange.rest_base) as client:
            assert (await client.get("/api/v3/ping")).status_code == 500
            assert (await client.get("/api/v3/ping")).status_code == 200
        assert exchange.stats.ws_opened_total == 1
        assert exchange.stats.ws_messages_sent >= 1
