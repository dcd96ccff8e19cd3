"""Attaching to candle topics: a failed attach leaves nothing behind, and an interval the
node's market lacks (``1s`` on USD-M) is refused by every candle route before any topic
starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from fastapi import FastAPI

from marketcast.api.app import create_app
from marketcast.api.state import AppState
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.errors import InvalidInterval, StoreUnavailable
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.servers import hub_settings, serve_app, wait_ready
from support.wsio import closed_with, connect, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

Json = dict[str, Any]
START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SIM = SimConfig(seed=31, symbols=("BTCUSDT", "ETHUSDT"), start_ms=START_MS, speed=60.0)
BTC_1M = Topic("BTCUSDT", Interval.parse("1m"))
BTC_1S = Topic("BTCUSDT", Interval.parse("1s"))


class Node:
    """A served app and the state its handlers read (to inject faults and look inside)."""

    def __init__(self, app: FastAPI, http: str) -> None:
        self.app = app
        self.http = http
        self.ws = http.replace("http://", "ws://", 1)

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.marketcast
        return state

    def subscribers(self, topic: Topic) -> int:
        return self.state.hub.bus.subscriber_count(topic)

    def fail_next_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The store's next ``read`` raises :class:`StoreUnavailable` (Redis blipped).

        Until then the store tells no revision, as Redis does: an answer encoded earlier
        for an unchanged topic would otherwise be sent without reading the store at all.
        """
        store = self.state.hub.store
        real: Callable[..., Awaitable[Any]] = store.read
        real_revision = store.revision

        async def failing(*args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(store, "read", real)
            monkeypatch.setattr(store, "revision", real_revision)
            raise StoreUnavailable("store down (injected)")

        monkeypatch.setattr(store, "read", failing)
        monkeypatch.setattr(store, "revision", lambda topic: None)


@asynccontextmanager
async def running_node(**settings: Any) -> AsyncIterator[Node]:
    async with SimExchange(SIM) as sim:
        # Candles only: these nodes test candle routes, and the books' and trades' simulated
        # flow at 60x would be most of a loaded machine's share of CPU.
        app = create_app(hub_settings(sim, **{"feeds": ()} | settings), simulated=True)
        async with serve_app(app) as http:
            await wait_ready(http)
            yield Node(app, http)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def spot() -> AsyncIterator[Node]:
    async with running_node() as node:
        yield node


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def usdm() -> AsyncIterator[Node]:
    async with running_node(market="usdm") as node:
        yield node


def subscribe(topic: Topic) -> str:
    body = {"op": "subscribe", "channel": "candles", "symbol": topic.symbol}
    return orjson.dumps(body | {"interval": topic.interval.code}).decode()


def of_type(kind: str) -> Callable[[Json], bool]:
    return lambda message: message.get("type") == kind


# -- a failed attach ------------------------------------------------------------------
async def test_a_native_subscribe_whose_snapshot_fails_leaves_no_bus_subscription(
    spot: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = spot.subscribers(BTC_1M)
    async with connect(f"{spot.ws}/ws") as ws:
        spot.fail_next_read(monkeypatch)
        await ws.send(subscribe(BTC_1M))
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "store_unavailable")
        assert spot.subscribers(BTC_1M) == before
        # The store is back: the same subscribe now works, and unsubscribing ends it.
        await ws.send(subscribe(BTC_1M))
        await receive_until(ws, of_type("snapshot"))
        assert spot.subscribers(BTC_1M) == before + 1
        await ws.send(subscribe(BTC_1M).replace("subscribe", "unsubscribe"))
        await receive_until(ws, of_type("unsubscribed"))
        assert spot.subscribers(BTC_1M) == before


async def test_a_failed_native_resubscribe_keeps_the_previous_candle_subscription(
    spot: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = spot.subscribers(BTC_1M)
    async with connect(f"{spot.ws}/ws") as ws:
        await ws.send(subscribe(BTC_1M))
        await receive_until(ws, of_type("snapshot"))
        spot.fail_next_read(monkeypatch)
        await ws.send(subscribe(BTC_1M))
        await receive_until(ws, of_type("error"))
        assert spot.subscribers(BTC_1M) == before + 1
        update = (await receive_until(ws, of_type("candle"), timeout=15.0))[-1]
        assert (update["symbol"], update["interval"]) == ("BTCUSDT", "1m")


async def test_an_orderfox_chart_whose_history_fails_is_refused_and_detached(
    spot: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = spot.subscribers(BTC_1M)
    spot.fail_next_read(monkeypatch)
    async with connect(f"{spot.ws}/api/v1/ws/candles/BTCUSDT/1m") as ws:
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "store_unavailable")
        assert (await closed_with(ws)).rcvd is not None
    assert spot.subscribers(BTC_1M) == before


# -- 1s on a USD-M node ---------------------------------------------------------------
@pytest.fixture
def asked(usdm: Node, monkeypatch: pytest.MonkeyPatch) -> list[Topic]:
    """Topics the API asked the hub for: a refused interval must never get that far."""
    hub = usdm.state.hub
    real = hub.topic_ready
    topics: list[Topic] = []

    async def recording(topic: Topic) -> None:
        topics.append(topic)
        await real(topic)

    monkeypatch.setattr(hub, "topic_ready", recording)
    return topics


@pytest.mark.parametrize(
    "path",
    [
        "/candles/BTCUSDT/1s",
        "/api/v1/candles/BTCUSDT?timeframe=1s",
        "/api/historical/BTCUSDT?interval=1s",
    ],
)
async def test_usdm_rest_refuses_1s_before_asking_the_hub(
    usdm: Node, asked: list[Topic], path: str
) -> None:
    async with httpx.AsyncClient(base_url=usdm.http, timeout=10.0) as client:
        for _ in range(2):  # the second ask used to hang on a broken topic (504)
            response = await client.get(path)
            assert response.status_code == 400
            assert "1m" in response.text
    assert asked == []
    assert usdm.state.hub.sync_of(BTC_1S) is None


async def test_usdm_native_ws_refuses_1s_with_an_invalid_interval_error(
    usdm: Node, asked: list[Topic]
) -> None:
    async with connect(f"{usdm.ws}/ws") as ws:
        await ws.send(subscribe(BTC_1S))
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "invalid_interval")
    assert asked == []


async def test_usdm_orderfox_chart_refuses_1s_with_close_1008(
    usdm: Node, asked: list[Topic]
) -> None:
    async with connect(f"{usdm.ws}/api/v1/ws/candles/BTCUSDT/1s") as ws:
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "invalid_interval")
        assert (await closed_with(ws)).rcvd.code == 1008  # type: ignore[union-attr]
    assert asked == []


async def test_hub_rolls_back_an_on_demand_topic_the_stream_refuses(usdm: Node) -> None:
    hub = usdm.state.hub
    for _ in range(2):  # a second try is refused the same way, not left to time out
        with pytest.raises(InvalidInterval):
            await hub.topic_ready(BTC_1S)
    assert not hub.is_on_demand(BTC_1S)
    assert hub.sync_of(BTC_1S) is None
    assert hub.dead_workers() == []
