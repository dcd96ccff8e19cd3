"""KlineStream against a real WebSocket server on 127.0.0.1, scripted per test."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from marketcast.domain.topics import Topic
from marketcast.exchanges.binance import (
    Backoff,
    Disconnected,
    KlineStream,
    KlineUpdate,
    Reconnected,
    StreamEvent,
    stream_name,
)
from marketcast.exchanges.binance.messages import StreamsReconnected
from marketcast.exchanges.binance.trades import TradeEvent

pytestmark = pytest.mark.timeout(20)

T0 = 1_700_000_040_000
BTC = Topic.of("BTCUSDT", "1m")
ETH_MONTH = Topic.of("ETHUSDT", "1M")


def kline_frame(topic: Topic, seq: int, *, closed: bool = False) -> str:
    """A combined-stream kline frame; ``seq`` doubles as event time and trade count."""
    k = {
        "t": T0, "T": T0 + 59_999, "s": topic.symbol, "i": topic.interval.code,
        "f": 1, "L": 2, "o": "1.0", "c": "2.0", "h": "3.0", "l": "0.5", "v": "10",
        "n": seq, "x": closed, "q": "20", "V": "5", "Q": "10", "B": "0",
    }  # fmt: skip
    data = {"e": "kline", "E": T0 + seq, "s": topic.symbol, "k": k}
    return orjson.dumps({"stream": stream_name(topic), "data": data}).decode()


def trade_frame(trade_id: int) -> str:
    """A combined-stream ``btcusdt@trade`` frame; ``trade_id`` doubles as event time."""
    data = {
        "e": "trade", "E": T0 + trade_id, "s": "BTCUSDT", "t": trade_id,
        "p": "1.5", "q": "2", "T": T0 + trade_id, "m": False, "M": True,
    }  # fmt: skip
    return orjson.dumps({"stream": "btcusdt@trade", "data": data}).decode()


class FakeStreams:
    """Accepts connections, answers SUBSCRIBE/UNSUBSCRIBE, records everything."""

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []
        self.arrivals: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.requests: list[tuple[ServerConnection, dict[str, object]]] = []
        self.streams: dict[ServerConnection, set[str]] = {}
        self.on_connect: Callable[[ServerConnection], Awaitable[None]] | None = None
        self.reject_requests = False

    async def handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        self.streams[ws] = set(query.get("streams", [""])[0].split("/")) - {""}
        self.connections.append(ws)
        self.arrivals.put_nowait(ws)
        if self.on_connect is not None:
            await self.on_connect(ws)
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                request = orjson.loads(raw)
                self.requests.append((ws, request))
                params = set(request.get("params", []))
                if request["method"] == "SUBSCRIBE":
                    self.streams[ws] |= params
                elif request["method"] == "UNSUBSCRIBE":
                    self.streams[ws] -= params
                reply = (
                    {"code": 2, "msg": "Invalid request", "id": request["id"]}
                    if self.reject_requests
                    else {"result": None, "id": request["id"]}
                )
                await ws.send(orjson.dumps(reply).decode())

    async def next_connection(self) -> ServerConnection:
        async with asyncio.timeout(5):
            return await self.arrivals.get()


@contextlib.asynccontextmanager
async def running(
    *,
    data_timeout: float = 15.0,
    max_connection_age: float = 3600.0,
    server_ping_interval: float = 20.0,
) -> AsyncIterator[tuple[FakeStreams, KlineStream]]:
    fake = FakeStreams()
    async with serve(
        fake.handler,
        "127.0.0.1",
        0,
        ping_interval=server_ping_interval,
        ping_timeout=server_ping_interval,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(3))
        async with KlineStream(
            f"ws://127.0.0.1:{port}",
            backoff=backoff,
            data_timeout=data_timeout,
            max_connection_age=max_connection_age,
        ) as stream:
            yield fake, stream


async def next_event(events: AsyncIterator[StreamEvent], timeout: float = 5.0) -> StreamEvent:
    async with asyncio.timeout(timeout):
        return await anext(events)


async def next_update(events: AsyncIterator[StreamEvent]) -> KlineUpdate:
    event = await next_event(events)
    assert isinstance(event, KlineUpdate), event
    return event


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_combined_payloads_arrive_as_kline_updates() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC, ETH_MONTH])
        ws = await fake.next_connection()
        assert fake.streams[ws] == {"btcusdt@kline_1m", "ethusdt@kline_1M"}
        await ws.send(kline_frame(BTC, 1))
        await ws.send(kline_frame(ETH_MONTH, 2, closed=True))
        events = stream.events()
        first, second = await next_update(events), await next_update(events)
    assert (first.topic, first.candle.trades, first.candle.closed) == (BTC, 1, False)
    assert (second.topic, second.candle.closed) == (ETH_MONTH, True)
    assert second.topic.interval.code == "1M"
    assert stream.stats.messages == 2


async def test_first_connect_emits_no_reconnected() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC])
        ws = await fake.next_connection()
        await ws.send(kline_frame(BTC, 1))
        assert isinstance(await next_event(stream.events()), KlineUpdate)
        assert stream.connections()[0].state == "connected"


async def test_drop_reconnects_and_announces_before_new_data() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC])
        events = stream.events()
        first = await fake.next_connection()
        await first.send(kline_frame(BTC, 1))
        await next_update(events)
        await first.close()
        second = await fake.next_connection()
        await second.send(kline_frame(BTC, 2))
        dropped, announced, update = [await next_event(events) for _ in range(3)]
    assert isinstance(dropped, Disconnected)
    assert dropped.topics == frozenset({BTC})
    assert announced == Reconnected(frozenset({BTC}))
    assert isinstance(update, KlineUpdate)
    assert update.candle.trades == 2
    assert stream.stats.reconnects == 1


async def test_stalled_connection_is_replaced_by_the_watchdog() -> None:
    async with running(data_timeout=0.3) as (fake, stream):
        await stream.set_topics([BTC])
        events = stream.events()
        first = await fake.next_connection()
        await first.send(kline_frame(BTC, 1))  # then silence, socket still open
        await next_update(events)
        dropped = await next_event(events)
        second = await fake.next_connection()
        await second.send(kline_frame(BTC, 2))
        assert await next_event(events) == Reconnected(frozenset({BTC}))
        assert (await next_update(events)).candle.trades == 2
    assert isinstance(dropped, Disconnected)
    assert "stalled" in dropped.reason
    assert first.state.name == "CLOSED"


async def test_malformed_frames_are_skipped_and_the_connection_stays() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC])
        ws = await fake.next_connection()
        garbage_frames: list[str | bytes] = [
            "not json",
            '{"stream": "x", "data": 1}',
            b"\xff",
            "[]",
        ]
        for garbage in garbage_frames:
            await ws.send(garbage)
        await ws.send(kline_frame(BTC, 7))
        update = await next_update(stream.events())
        assert update.candle.trades == 7
        assert stream.stats.malformed_frames == 4
        assert len(fake.connections) == 1
        assert stream.stats.connections == 1


async def test_server_shutdown_opens_a_replacement_before_closing() -> None:
    async def greet(ws: ServerConnection) -> None:
        if len(fake.connections) == 2:
            await ws.send(kline_frame(BTC, 3))

    async with running() as (fake, stream):
        fake.on_connect = greet
        await stream.set_topics([BTC])
        events = stream.events()
        first = await fake.next_connection()
        await first.send(kline_frame(BTC, 1))
        await first.send('{"e": "serverShutdown", "E": 1770123456789}')
        await next_update(events)
        await fake.next_connection()
        await first.send(kline_frame(BTC, 4))  # the old connection is still delivering
        seen = [await next_event(events) for _ in range(3)]
        await eventually(lambda: first.state.name == "CLOSED")
    assert Reconnected(frozenset({BTC})) in seen
    assert not any(isinstance(e, Disconnected) for e in seen)
    trades = sorted(e.candle.trades for e in seen if isinstance(e, KlineUpdate))
    assert trades == [3, 4]


async def test_age_limit_replaces_connections_without_a_gap() -> None:
    async def broadcast() -> None:
        for seq in range(1, 10_000):
            for ws in list(fake.connections):
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(kline_frame(BTC, seq))
            await asyncio.sleep(0.02)

    async with running(max_connection_age=0.6) as (fake, stream):
        await stream.set_topics([BTC])
        pusher = asyncio.create_task(broadcast())
        seqs: set[int] = set()
        reconnected = 0
        after_last_replacement = 0
        events = stream.events()
        try:
            while reconnected < 2 or after_last_replacement < 10:
                event = await next_event(events)
                if isinstance(event, KlineUpdate):
                    seqs.add(event.candle.trades)
                    after_last_replacement += 1
                else:
                    assert isinstance(event, Reconnected), event
                    reconnected += 1
                    after_last_replacement = 0
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
    assert reconnected >= 2
    assert seqs == set(range(min(seqs), max(seqs) + 1))  # duplicates fine, gaps not
    assert fake.connections[0].state.name == "CLOSED"


async def test_add_topics_subscribes_on_the_live_connection() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC])
        ws = await fake.next_connection()
        await stream.add_topics([ETH_MONTH])
        await eventually(lambda: len(fake.requests) == 1)
        _, request = fake.requests[0]
        assert request["method"] == "SUBSCRIBE"
        assert request["params"] == ["ethusdt@kline_1M"]
        await ws.send(kline_frame(ETH_MONTH, 5))
        assert (await next_update(stream.events())).topic == ETH_MONTH
        await stream.remove_topics([ETH_MONTH])
        await eventually(lambda: len(fake.requests) == 2)
        assert fake.requests[1][1]["method"] == "UNSUBSCRIBE"
        assert fake.streams[ws] == {"btcusdt@kline_1m"}
        assert len(fake.connections) == 1


async def test_more_than_1024_topics_need_two_connections() -> None:
    topics = [Topic.of(f"SYM{i:04d}USDT", "1m") for i in range(1030)]
    async with running() as (fake, stream):
        await stream.set_topics(topics)
        first, second = await fake.next_connection(), await fake.next_connection()
        wanted = {stream_name(t) for t in topics}
        await eventually(lambda: fake.streams[first] | fake.streams[second] == wanted)
        assert sorted([len(fake.streams[first]), len(fake.streams[second])]) == [6, 1024]
        assert all(len(ws.request.path) < 2000 for ws in (first, second) if ws.request)
        assert all(len(r["params"]) <= 200 for _, r in fake.requests)  # type: ignore[arg-type]
        assert len(stream.connections()) == 2


async def test_removing_every_topic_closes_the_connection() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC])
        ws = await fake.next_connection()
        await stream.set_topics([])
        await eventually(lambda: ws.state.name == "CLOSED")
        assert stream.connections() == []


async def test_aclose_ends_the_event_iterator() -> None:
    async with running() as (fake, stream):
        await stream.set_topics([BTC])
        await fake.next_connection()
        events = stream.events()
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await next_event(events)
        with pytest.raises(RuntimeError):
            await stream.add_topics([ETH_MONTH])


async def test_server_pings_are_answered_and_the_connection_kept() -> None:
    async with running(server_ping_interval=0.1) as (fake, stream):
        await stream.set_topics([BTC])
        ws = await fake.next_connection()
        await asyncio.sleep(0.6)  # several server pings, each needing a pong within 0.1 s
        await ws.send(kline_frame(BTC, 1))
        assert (await next_update(stream.events())).candle.trades == 1
        assert len(fake.connections) == 1
        assert stream.stats.reconnects == 0


async def test_refused_subscribe_is_counted_and_the_connection_kept() -> None:
    async with running() as (fake, stream):
        fake.reject_requests = True
        await stream.set_topics([BTC])
        ws = await fake.next_connection()
        await stream.add_topics([ETH_MONTH])
        await eventually(lambda: stream.stats.control_errors == 1)
        await ws.send(kline_frame(BTC, 1))
        assert (await next_update(stream.events())).topic == BTC
        assert len(fake.connections) == 1


async def test_replacement_announces_raw_streams_and_mutes_the_old_connection() -> None:
    async def greet(ws: ServerConnection) -> None:
        if len(fake.connections) == 2:
            await ws.send(trade_frame(3))

    async with running() as (fake, stream):
        fake.on_connect = greet
        await stream.set_topics([BTC])
        await stream.add_streams(["btcusdt@trade"])
        events = stream.events()
        first = await fake.next_connection()
        await eventually(lambda: "btcusdt@trade" in fake.streams[first])
        await first.send(trade_frame(1))
        await first.send('{"e": "serverShutdown", "E": 1770123456789}')
        assert isinstance(await next_event(events), TradeEvent)
        second = await fake.next_connection()
        assert fake.streams[second] == {"btcusdt@kline_1m", "btcusdt@trade"}
        seen = [await next_event(events) for _ in range(3)]
        await first.send(trade_frame(4))  # stale: the new connection is live already
        await first.send(kline_frame(BTC, 4))  # klines still count for the catch-up
        await eventually(lambda: first.state.name == "CLOSED")
        await second.send(trade_frame(5))
        rest = [await next_event(events) for _ in range(2)]
    assert seen[:2] == [
        Reconnected(frozenset({BTC})),
        StreamsReconnected(frozenset({"btcusdt@trade"})),
    ]
    assert isinstance(seen[2], TradeEvent)
    assert seen[2].trade.id == 3
    assert isinstance(rest[0], KlineUpdate)
    assert isinstance(rest[1], TradeEvent)
    assert rest[1].trade.id == 5
