"""Futures routes and what each market carries; the stream client on a routed base.

The routed-base tests run a small WebSocket server on loopback that serves
``@forceOrder`` frames the way Binance's ``/market`` route does, since the simulator
does not serve futures streams yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from marketcast.domain.topics import Topic
from marketcast.errors import InvalidInterval, InvalidRequest
from marketcast.exchanges.binance import SPOT, USDM, stream_base
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.markets import MarketSpec, StreamKind
from marketcast.exchanges.binance.messages import (
    Disconnected,
    LiquidationEvent,
    Reconnected,
    StreamEvent,
    StreamsReconnected,
)
from marketcast.exchanges.binance.routing import (
    check_kline_interval,
    check_stream_for_market,
    stream_kind,
)
from marketcast.exchanges.binance.stream import KlineStream

pytestmark = pytest.mark.timeout(20)

FSTREAM = "wss://fstream.binance.com"


# --- pure ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "route"),
    [
        ("kline", "/market"),
        ("aggTrade", "/market"),
        ("forceOrder", "/market"),
        ("depth", "/public"),
    ],
)
def test_futures_streams_live_under_their_route(kind: StreamKind, route: str) -> None:
    assert stream_base(FSTREAM, USDM, kind) == FSTREAM + route
    assert stream_base(FSTREAM + "/", USDM, kind) == FSTREAM + route


def test_spot_streams_live_at_the_base_itself() -> None:
    base = "wss://stream.binance.com:9443"
    assert {stream_base(base, SPOT, k) for k in ("kline", "depth", "trade", "aggTrade")} == {base}


@pytest.mark.parametrize(("market", "kind"), [(USDM, "trade"), (SPOT, "forceOrder")])
def test_a_stream_kind_the_market_lacks_has_no_base(market: MarketSpec, kind: StreamKind) -> None:
    with pytest.raises(ValueError, match="has no"):
        stream_base(FSTREAM, market, kind)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("btcusdt@kline_1m", "kline"),
        ("btcusdt@kline_1M", "kline"),
        ("btcusdt@depth", "depth"),
        ("btcusdt@depth@500ms", "depth"),
        ("btcusdt@trade", "trade"),
        ("btcusdt@aggTrade", "aggTrade"),
        ("btcusdt@forceOrder", "forceOrder"),
    ],
)
def test_stream_kind_reads_the_name(name: str, kind: str) -> None:
    assert stream_kind(name) == kind


@pytest.mark.parametrize(
    ("name", "accepted_on"),
    [
        ("btcusdt@depth", {"spot", "usdm"}),
        ("btcusdt@depth@100ms", {"spot", "usdm"}),
        ("btcusdt@depth@500ms", {"usdm"}),
        ("btcusdt@depth@250ms", set()),  # futures' 250 ms stream is the plain @depth
        ("btcusdt@aggTrade", {"spot", "usdm"}),
        ("btcusdt@trade", {"spot"}),
        ("btcusdt@forceOrder", {"usdm"}),
        ("btcusdt@bookTicker", set()),
    ],
)
def test_each_market_carries_only_its_streams(name: str, accepted_on: set[str]) -> None:
    for market in (SPOT, USDM):
        if market.name in accepted_on:
            assert check_stream_for_market(name, market) == name
        else:
            with pytest.raises(InvalidRequest):
                check_stream_for_market(name, market)


def test_1s_klines_are_refused_on_usdm_only() -> None:
    one_second = Topic.of("BTCUSDT", "1s").interval
    assert check_kline_interval(SPOT, one_second) == one_second
    with pytest.raises(InvalidInterval) as refused:
        check_kline_interval(USDM, one_second)
    assert refused.value.given == "1s"
    assert "1s" not in refused.value.valid
    assert "1m" in refused.value.valid


async def test_stream_client_for_usdm_refuses_1s_topics_and_spot_only_streams() -> None:
    async with KlineStream("ws://127.0.0.1:9/market", market=USDM) as stream:
        with pytest.raises(InvalidInterval):
            await stream.add_topics([Topic.of("BTCUSDT", "1m"), Topic.of("BTCUSDT", "1s")])
        with pytest.raises(InvalidRequest):
            await stream.add_streams(["btcusdt@forceOrder", "btcusdt@trade"])
        assert stream.connections() == []


# --- a routed base over real sockets -------------------------------------------------------


def force_order(symbol: str, n: int) -> dict[str, object]:
    """The ``n``-th liquidation of ``symbol``, shaped like Binance's ``forceOrder`` event."""
    t = 1_700_000_000_000 + n * 1000
    order = {
        "s": symbol, "S": "SELL" if n % 2 else "BUY", "o": "LIMIT", "f": "IOC",
        "q": "0.010", "p": "36000.0", "ap": "36001.5", "X": "FILLED", "l": "0.010",
        "z": "0.010", "T": t,
    }  # fmt: skip
    return {"e": "forceOrder", "E": t + 1, "o": order}


@dataclass
class FakeMarketRoute:
    """Serves ``/market/stream?streams=`` with a ``forceOrder`` frame every 20 ms.

    ``drop_after`` frames, the first connection is cut without a close frame's grace.
    """

    drop_after: int | None = None
    paths: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    async def handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        self.paths.append(path)
        url = urlsplit(path)
        if url.path != "/market/stream":
            await ws.close(1008, "unrouted")
            return
        streams = parse_qs(url.query).get("streams", [""])[0].split("/")
        replies = asyncio.create_task(self._answer_requests(ws))
        try:
            await self._push(ws, [s for s in streams if s], first=len(self.paths) == 1)
        except ConnectionClosed:
            pass
        finally:
            replies.cancel()

    async def _push(self, ws: ServerConnection, streams: list[str], *, first: bool) -> None:
        for sent in itertools.count():
            if first and self.drop_after is not None and sent == self.drop_after:
                ws.transport.abort()
                return
            for name in streams:
                symbol = name.partition("@")[0].upper()
                data = force_order(symbol, next(self.counter))
                await ws.send(orjson.dumps({"stream": name, "data": data}).decode())
            await asyncio.sleep(0.02)

    @staticmethod
    async def _answer_requests(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                request = orjson.loads(message)
                await ws.send(orjson.dumps({"result": None, "id": request["id"]}).decode())


@contextlib.asynccontextmanager
async def routed(fake: FakeMarketRoute) -> AsyncIterator[str]:
    async with serve(fake.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield stream_base(f"ws://127.0.0.1:{port}", USDM, "forceOrder")


def client(base: str) -> KlineStream:
    backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(3))
    return KlineStream(base, backoff=backoff, data_timeout=3.0, market=USDM)


async def until(
    events: AsyncIterator[StreamEvent], wanted: Callable[[StreamEvent], bool]
) -> list[StreamEvent]:
    seen: list[StreamEvent] = []
    async with asyncio.timeout(8):
        async for event in events:
            seen.append(event)
            if wanted(event):
                return seen
    raise AssertionError(f"stream ended; saw {seen}")


def is_liquidation(event: StreamEvent) -> bool:
    return isinstance(event, LiquidationEvent)


async def test_routed_base_keeps_its_path_in_front_of_stream() -> None:
    fake = FakeMarketRoute()
    async with routed(fake) as base, client(base) as stream:
        await stream.add_streams(["btcusdt@forceOrder"])
        seen = await until(stream.events(), is_liquidation)
    assert fake.paths == ["/market/stream?streams=btcusdt@forceOrder"]
    event = seen[-1]
    assert isinstance(event, LiquidationEvent)
    assert event.symbol == "BTCUSDT"
    assert event.liquidation.quantity == Decimal("0.010")


async def test_force_order_streams_are_announced_again_after_a_drop() -> None:
    fake = FakeMarketRoute(drop_after=2)
    async with routed(fake) as base, client(base) as stream:
        await stream.add_streams(["btcusdt@forceOrder", "ethusdt@forceOrder"])
        events = stream.events()
        await until(events, is_liquidation)
        after = await until(events, lambda e: isinstance(e, StreamsReconnected))
        following = await until(events, is_liquidation)
        assert stream.stats.reconnects == 1
    assert after[-1] == StreamsReconnected(frozenset({"btcusdt@forceOrder", "ethusdt@forceOrder"}))
    assert not any(isinstance(e, Reconnected | Disconnected) for e in after + following)
    assert len(fake.paths) == 2
    assert all(urlsplit(p).path == "/market/stream" for p in fake.paths)
