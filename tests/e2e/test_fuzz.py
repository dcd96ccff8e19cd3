"""Fuzzing a running node: no input answers 5xx, closes a socket or logs an exception.

REST: schemathesis generates requests for every operation of ``/openapi.json`` (``/candles``
included) and checks every answer against the document. WebSockets: hypothesis generates
client messages for each protocol (JSON objects built from the protocols' own keys with
values of every type, and text that is not JSON); after each one the socket must still
answer its ping. The node runs as ``marketcast demo`` in its own process; at the end its
log must hold no traceback and no error line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance
from websockets.sync.client import ClientConnection, connect

from support.servers import free_port

pytestmark = [pytest.mark.e2e]

EXAMPLES = 200  # per REST operation and per WebSocket protocol: bounded for CI time
KEYS = (
    "op", "channel", "symbol", "interval", "since", "limit", "rounding", "names",
    "timeframe", "type", "subscriptions", "container_width", "before", "start_time",
    "end_time",
)  # fmt: skip
WORDS = (
    "subscribe", "unsubscribe", "ping", "candles", "orderbook", "trades", "liquidations",
    "indicators", "BTCUSDT", "btc/usdt", "ETHUSDT", "XYZ", "1m", "1M", "5m", "1s", "0.1",
    "update_params", "ema20", "rsi14", "macd",
)  # fmt: skip


@contextlib.contextmanager
def node() -> Iterator[tuple[str, Path]]:
    """``marketcast demo`` with limits loose enough for fuzzing; yields origin and log."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="marketcast-fuzz-", suffix=".log")[1])
    env = os.environ | {
        "MARKETCAST_MAX_CLIENT_MESSAGES_PER_S": "10000",
        "MARKETCAST_MAX_SUBSCRIPTIONS_PER_CONNECTION": "1000",
    }
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marketcast.cli",
                "demo",
                "--port",
                str(port),
                "--symbols",
                "BTCUSDT,ETHUSDT",
                "--intervals",
                "1m,5m",
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{origin}/ready", timeout=5).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise TimeoutError("the node did not become ready")
        yield origin, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[str, Path]]:
    with node() as running:
        yield running


def operations(origin: str) -> list[Any]:
    """Every operation of the node's OpenAPI document."""
    schema = schemathesis.openapi.from_url(f"{origin}/openapi.json")
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    return [result.ok() for result in results if isinstance(result, Ok)]


def test_the_openapi_document_has_every_rest_route(running: tuple[str, Path]) -> None:
    paths = {operation.path for operation in operations(running[0])}
    assert {"/candles/{symbol}/{interval}", "/orderbook/{symbol}", "/api/v1/symbols"} <= paths


def test_no_request_gets_a_server_error_or_an_answer_the_schema_does_not_describe(
    running: tuple[str, Path],
) -> None:
    for operation in operations(running[0]):

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: Case[Any]) -> None:
            response = case.call(timeout=60)
            assert response.status_code < 500, (case.path, case.query, response.text[:300])
            # schemathesis' default checks: status codes, content types, headers and
            # bodies (the error bodies included) as /openapi.json documents them. Not
            # "schema-valid data is accepted": whether a value is valid can depend on
            # the exchange (a symbol's rounding options, the listed symbols), which a
            # schema cannot say, and the 400 such a value gets is documented.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        answers_as_documented()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(WORDS) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)
messages = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(
        json.dumps  # not orjson: integers past 64 bits and NaN are fair inputs too
    ),
    st.text(max_size=200),
    st.binary(max_size=64).map(lambda raw: raw.decode("latin-1")),
)

# Each WebSocket protocol with its ping and how its answer looks.
PROTOCOLS = {
    "/ws": ('{"op":"ping"}', {"type": "pong"}),
    "/ws/BTCUSDT": ("ping", {"type": "pong"}),
    "/ws/candles/BTCUSDT": ("ping", {"type": "pong"}),
    "/ws/candles": ('{"symbol":"BTCUSDT","interval":"1m"}', {"type": "subscribed"}),
    "/api/v1/ws/orderbook/BTCUSDT": ('{"type":"ping"}', {"type": "pong"}),
    "/api/v1/ws/candles/BTCUSDT/1m": ('{"type":"ping"}', {"type": "pong"}),
    "/api/v1/ws/trades/BTCUSDT": ('{"type":"ping"}', {"type": "pong"}),
    "/api/v1/ws/liquidations/BTCUSDT": ('{"type":"ping"}', {"type": "pong"}),
}


def answered(ws: ClientConnection, ping: str, answer: dict[str, str]) -> bool:
    """Send ``ping``; read until its answer comes (other pushes are skipped)."""
    ws.send(ping)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = ws.recv(timeout=deadline - time.monotonic())
        for item in _messages(message):
            if isinstance(item, dict) and all(item.get(k) == v for k, v in answer.items()):
                return True
    return False


def _messages(raw: str | bytes) -> list[Any]:
    value = orjson.loads(raw)
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("path", list(PROTOCOLS))
def test_no_client_message_breaks_a_socket(running: tuple[str, Path], path: str) -> None:
    url = running[0].replace("http", "ws", 1) + path
    ping, answer = PROTOCOLS[path]
    with connect(url, open_timeout=60, max_size=None) as ws:

        @given(message=messages)
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def survives(message: str) -> None:
            ws.send(message)
            assert answered(ws, ping, answer), message

        survives()


def test_the_node_logged_no_exception(running: tuple[str, Path]) -> None:
    lines = running[1].read_text().splitlines()
    bad = [line for line in lines if "Traceback" in line or " ERROR " in line]
    assert not bad, bad[:5]
