"""What every OrderFox socket shares (:mod:`marketcast.api.orderfox.sockets`): ping/pong,
refusals (error message, then 4000 / 1008 / 1013), message errors that keep the socket
open, and the token check. The candle socket is the vehicle; the order-book socket
runs the same code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from websockets.exceptions import InvalidStatus

from marketcast.api.orderfox.sockets import (
    CLOSE_REASON_MAX_BYTES,
    close_code,
    close_reason,
    parse_message,
    refusal_message,
)
from marketcast.errors import (
    CapacityExceeded,
    InvalidInterval,
    InvalidLimit,
    InvalidRequest,
    NotReady,
    UnknownSymbol,
)
from marketcast.exchanges.sim import SimConfig
from support.servers import Running, running_hub, wait_ready
from support.wsio import closed_with, connect, gather_for, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SIM = SimConfig(seed=31, symbols=("BTCUSDT", "ETHUSDT"), start_ms=START_MS, speed=60.0)
TOKEN = "orderfox-test-token"
CHART = "/api/v1/ws/candles/BTCUSDT/1m"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(SIM, symbols=("BTCUSDT",), buffer_size=50, auth_token=TOKEN) as running:
        await wait_ready(running.http)
        yield running


def chart_url(hub: Running, path: str = CHART) -> str:
    joiner = "&" if "?" in path else "?"
    return f"{hub.ws}{path}{joiner}token={TOKEN}"


# -- pure rules ----------------------------------------------------------------------
async def test_close_codes_unknown_symbol_4000_invalid_query_1008_else_1013() -> None:
    assert close_code(UnknownSymbol("BTCX")) == 4000
    assert close_code(InvalidInterval("1x", ("1m",))) == 1008
    assert close_code(InvalidLimit(0, 50)) == 1008
    assert close_code(InvalidRequest("rounding")) == 1008
    assert close_code(NotReady("later")) == 1013
    assert close_code(CapacityExceeded("full")) == 1013
    assert close_code(TimeoutError()) == 1013


async def test_close_reason_fits_a_close_frame_without_splitting_a_character() -> None:
    assert close_reason("short") == "short"
    long = close_reason("x" * 300)
    assert long == "x" * CLOSE_REASON_MAX_BYTES
    multibyte = close_reason("é" * 100)  # two bytes each: 61 fit, not a half character
    assert multibyte == "é" * 61


async def test_refusal_message_carries_code_and_suggestions() -> None:
    text = refusal_message(UnknownSymbol("BTCX", ("BTCUSDT",)))
    assert '"type":"error"' in text
    assert '"code":"unknown_symbol"' in text
    assert '"suggestions":["BTCUSDT"]' in text
    assert '"code":"not_ready"' in refusal_message(TimeoutError())


async def test_refusal_message_echoes_the_symbol_when_known() -> None:
    assert '"symbol":"BTCUSDT"' in refusal_message(NotReady("later"), "BTCUSDT")
    assert '"symbol":"BTCUSDT"' in refusal_message(TimeoutError(), "BTCUSDT")
    assert '"symbol"' not in refusal_message(InvalidRequest("symbol is required"), None)


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"ping me"', "42"])
async def test_a_message_must_be_a_json_object(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_message(raw)


# -- on a live socket ----------------------------------------------------------------
async def test_ping_is_answered_with_pong(hub: Running) -> None:
    async with connect(chart_url(hub)) as ws:
        await ws.send('{"type": "ping"}')
        assert {"type": "pong"} in await receive_until(ws, lambda m: m["type"] == "pong")
        await ws.send("ping")
        assert {"type": "pong"} in await receive_until(ws, lambda m: m["type"] == "pong")


@pytest.mark.parametrize("raw", ['{"type": "subscribe"}', "{oops", "[]"])
async def test_a_bad_message_gets_an_error_and_the_socket_stays_open(
    hub: Running, raw: str
) -> None:
    async with connect(chart_url(hub)) as ws:
        await ws.send(raw)
        error = (await receive_until(ws, lambda m: m["type"] == "error"))[-1]
        assert error["code"] == "invalid_request"
        assert error["symbol"] == "BTCUSDT"
        await ws.send('{"type": "ping"}')
        assert (await receive_until(ws, lambda m: m["type"] != "candle_update"))[-1] == {
            "type": "pong"
        }


async def test_unknown_symbol_is_an_error_then_close_4000(hub: Running) -> None:
    async with connect(chart_url(hub, "/api/v1/ws/candles/NOPEUSDT?timeframe=1m")) as ws:
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["code"] == "unknown_symbol"
        assert error["symbol"] == "NOPEUSDT"
        assert "NOPEUSDT" in error["message"]
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4000
    assert "NOPEUSDT" in closed.rcvd.reason


async def test_a_reason_too_long_for_a_close_frame_is_cut_not_fatal(hub: Running) -> None:
    timeframe = "q" * 300
    async with connect(chart_url(hub, f"/api/v1/ws/candles/btc-usdt/{timeframe}")) as ws:
        error = await receive(ws)
        assert error["symbol"] == "BTCUSDT", "a refusal echoes the resolved exchange id"
        assert timeframe in error["message"], "the error message keeps the whole text"
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert 0 < len(closed.rcvd.reason.encode()) <= CLOSE_REASON_MAX_BYTES


async def test_without_the_token_the_handshake_is_refused(hub: Running) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(hub.ws + CHART) as ws:
            await gather_for(ws, 1.0)
    async with connect(chart_url(hub)) as ws:
        assert (await receive(ws, timeout=15))["type"] == "historical_candles"
