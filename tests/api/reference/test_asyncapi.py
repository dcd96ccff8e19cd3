"""``/asyncapi.json`` against what the hub really sends.

One hub follows the simulator (at 60x, so candles close and liquidations come every
second). Sessions on every WebSocket route provoke the messages their protocol
documents: snapshots, updates, acknowledgements, pongs, errors and refusals. Every frame
received must validate against one of the messages the document lists for that channel,
every client message sent against one the channel takes, and every message the document
lists must have been seen at least once (except the liquidations heartbeat, which needs
30 s of silence).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from jsonschema import Draft7Validator

from marketcast.api.app import create_app
from marketcast.exchanges.sim import SimConfig
from support.capture import Captured, Json, session
from support.routes import websocket_paths
from support.servers import Running, running_hub, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SIM = SimConfig(
    seed=5, symbols=("BTCUSDT", "ETHUSDT"), start_ms=1_780_272_000_000, speed=60.0,
    push_interval_s=0.2,
)  # fmt: skip
UNSEEN_BY_DESIGN = {"orderfoxHeartbeat"}  # after 30 s without a liquidation


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def captured() -> AsyncIterator[tuple[Captured, dict[str, Any], set[str]]]:
    async with running_hub(SIM, symbols=("BTCUSDT",), intervals=("1m",)) as hub:
        await wait_ready(hub.http)
        async with httpx.AsyncClient(base_url=hub.http) as client:
            document = (await client.get("/asyncapi.json")).json()
        record = Captured()
        await _native(hub, record)
        await _smarttrade(hub, record)
        await _orderfox(hub, record)
        yield record, document, set(websocket_paths(create_app(hub.settings).routes))


async def _native(hub: Running, record: Captured) -> None:
    async with session(record, hub.ws, "/ws", "/ws") as s:
        for hello in (
            {"op": "subscribe", "channel": "candles", "symbol": "BTCUSDT", "limit": 3},
            {"op": "subscribe", "channel": "indicators", "symbol": "BTCUSDT",
             "names": ["ema20", "macd"], "limit": 2},
            {"op": "subscribe", "channel": "orderbook", "symbol": "BTCUSDT", "limit": 2},
            {"op": "subscribe", "channel": "depth", "symbol": "BTCUSDT"},
            {"op": "subscribe", "channel": "trades", "symbol": "BTCUSDT", "limit": 2},
            {"op": "subscribe", "channel": "liquidations", "symbol": "BTCUSDT", "limit": 2,
             "timeframe": "5m"},
            {"op": "ping"},
            {"op": "subscribe", "channel": "candles", "symbol": "NOPEUSDT"},
        ):  # fmt: skip
            await s.send(hello)
        await s.until_types(
            ["snapshot", "candle", "indicators", "orderbook", "depth", "trades", "liquidation",
             "pong", "error"]
        )  # fmt: skip
        await s.send({"op": "unsubscribe", "channel": "candles", "symbol": "BTCUSDT"})
        await s.until_types(["unsubscribed"])


async def _smarttrade(hub: Running, record: Captured) -> None:
    async with session(record, hub.ws, "/ws/candles", "/ws/candles") as s:
        await s.send({"symbol": "BTCUSDT", "interval": "1m"})
        await s.send({"subscriptions": [{"symbol": "BTCUSDT"}, {"symbol": "NOPEUSDT"}]})
        await s.until_types(["candle", "subscribed", "error"])
    async with session(record, hub.ws, "/ws/candles/{symbol}", "/ws/candles/BTCUSDT") as s:
        await s.send("ping")
        await s.until_types(["candle", "pong"])
    async with session(record, hub.ws, "/ws/candles/{symbol}", "/ws/candles/NOPEUSDT") as s:
        await s.until_types(["error"])
    async with session(record, hub.ws, "/ws/{symbol}", "/ws/BTCUSDT?interval=1m") as s:
        await s.send({"type": "ping"})
        await s.until_types(["historical", "live_candle", "pong"])


async def _orderfox(hub: Running, record: Captured) -> None:
    book = "/api/v1/ws/orderbook/{symbol}"
    async with session(record, hub.ws, book, "/api/v1/ws/orderbook/BTCUSDT?limit=2") as s:
        await s.send({"type": "update_params", "limit": 3, "rounding": None})
        await s.send({"type": "ping"})
        await s.send({"type": "subscribe"})  # not an OrderFox message: an error
        await s.until_types(["orderbook_update", "params_updated", "pong", "error"])
    candles = "/api/v1/ws/candles/{symbol}/{timeframe}"
    async with session(record, hub.ws, candles, "/api/v1/ws/candles/BTCUSDT/1m") as s:
        await s.send("ping")
        await s.until_types(["historical_candles", "candle_update", "pong"])
    async with session(
        record, hub.ws, "/api/v1/ws/trades/{symbol}", "/api/v1/ws/trades/BTCUSDT"
    ) as s:
        await s.until(lambda got: {m.get("initial") for m in got} >= {True, False})
    liquidations = "/api/v1/ws/liquidations/{symbol}"
    path = "/api/v1/ws/liquidations/BTCUSDT?timeframe=5m"
    async with session(record, hub.ws, liquidations, path) as s:
        await s.until(
            lambda got: (
                any(m["type"] == "liquidation_order" and "initial" not in m for m in got)
                and any(m.get("is_update") for m in got)
            )
        )


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def channel_messages(document: dict[str, Any], action: str) -> dict[str, dict[str, Json]]:
    """Per channel address: the messages of its operations with ``action``, by id."""
    found: dict[str, dict[str, Json]] = {}
    for operation in document["operations"].values():
        if operation["action"] != action:
            continue
        channel = resolve(document, operation["channel"]["$ref"])
        messages = found.setdefault(channel["address"], {})
        for ref in operation["messages"]:
            key = ref["$ref"].rsplit("/", 1)[1]
            messages[key] = resolve(document, resolve(document, ref["$ref"])["$ref"])
    return found


def matching(messages: dict[str, Json], payload: object) -> tuple[str | None, list[str]]:
    """The id of the first message ``payload`` validates against, else every error."""
    errors: list[str] = []
    for key, message in messages.items():
        problems = list(Draft7Validator(message["payload"]).iter_errors(payload))
        if not problems:
            return key, []
        errors += [f"{key}: {p.message} at {list(p.absolute_path)}" for p in problems[:3]]
    return None, errors


async def test_the_document_is_asyncapi_3_and_every_reference_resolves(
    captured: tuple[Captured, dict[str, Any], set[str]],
) -> None:
    _, document, _ = captured
    assert document["asyncapi"] == "3.0.0"
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            assert "payload" in resolve(document, ref["$ref"])
        for name in re.findall(r"{(\w+)}", channel["address"]):
            assert name in channel["parameters"], channel["address"]
    for operation in document["operations"].values():
        assert operation["action"] in ("send", "receive")
        resolve(document, operation["channel"]["$ref"])
        for ref in operation["messages"]:
            resolve(document, ref["$ref"])
    for message in document["components"]["messages"].values():
        Draft7Validator.check_schema(message["payload"])


async def test_every_websocket_route_is_described(
    captured: tuple[Captured, dict[str, Any], set[str]],
) -> None:
    _, document, routes = captured
    described = {channel["address"] for channel in document["channels"].values()}
    # The query forms are the same sockets as the path forms they are documented with.
    aliases = {"/api/v1/ws/orderbook", "/api/v1/ws/candles/{symbol}"}
    assert routes - aliases == described - aliases
    assert described <= routes


async def test_every_message_the_hub_sent_validates_against_the_document(
    captured: tuple[Captured, dict[str, Any], set[str]],
) -> None:
    record, document, _ = captured
    sends = channel_messages(document, "send")
    seen: set[str] = set()
    for route, received in record.received.items():
        assert received, f"nothing captured on {route}"
        for payload in received:
            key, errors = matching(sends[route], payload)
            assert key is not None, f"{route}: {payload} matches no message:\n" + "\n".join(errors)
            seen.add(key)
    listed = {key for messages in sends.values() for key in messages}
    assert listed - seen == UNSEEN_BY_DESIGN


async def test_every_client_message_sent_validates_against_the_document(
    captured: tuple[Captured, dict[str, Any], set[str]],
) -> None:
    record, document, _ = captured
    receives = channel_messages(document, "receive")
    for route, sent in record.sent.items():
        for payload in sent:
            if payload == {"type": "subscribe"} and route.startswith("/api/v1"):
                continue  # sent on purpose to provoke an error
            key, errors = matching(receives[route], payload)
            assert key is not None, f"{route}: {payload} matches nothing:\n" + "\n".join(errors)
