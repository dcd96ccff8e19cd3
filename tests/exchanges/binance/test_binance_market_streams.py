"""Depth and trade streams on the kline stream client: parsing, and against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import orjson
import pytest

from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeProtocolError, InvalidRequest
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.messages import (
    Disconnected,
    KlineUpdate,
    Reconnected,
    StreamEvent,
    StreamsReconnected,
)
from marketcast.exchanges.binance.parse import parse_ws_message
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.exchanges.binance.trades import TradeEvent
from marketcast.exchanges.sim import SimConfig, SimExchange

pytestmark = pytest.mark.timeout(20)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
BTC_1M = Topic.of("BTCUSDT", "1m")
RAW = frozenset({"btcusdt@depth", "btcusdt@trade", "ethusdt@aggTrade"})

TRADE = {
    "e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345,
    "p": "0.001", "q": "100", "T": 1672515782136, "m": True, "M": True,
}  # fmt: skip
AGG_TRADE = {
    "e": "aggTrade", "E": 1672515782136, "s": "BNBBTC", "a": 12345, "p": "0.001",
    "q": "100", "f": 100, "l": 105, "T": 1672515782136, "m": True, "M": True,
}  # fmt: skip
DEPTH = {
    "e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,
    "b": [["0.0024", "10"]], "a": [["0.0026", "100"]],
}  # fmt: skip


def frame(payload: object) -> str:
    return orjson.dumps(payload).decode()


# --- parsing -------------------------------------------------------------------------------


def test_trade_event_parses_raw_and_combined() -> None:
    raw = parse_ws_message(frame(TRADE))
    combined = parse_ws_message(frame({"stream": "bnbbtc@trade", "data": TRADE}))
    assert raw == combined
    assert isinstance(raw, TradeEvent)
    assert (raw.symbol, raw.aggregate, raw.event_time) == ("BNBBTC", False, 1672515782136)
    assert raw.trade.id == 12345
    assert (raw.trade.price, raw.trade.quantity) == (Decimal("0.001"), Decimal("100"))
    assert raw.trade.buyer_is_maker
    assert raw.trade.time_ms == 1672515782136


def test_agg_trade_event_uses_the_aggregate_id() -> None:
    event = parse_ws_message(frame({"stream": "bnbbtc@aggTrade", "data": AGG_TRADE}))
    assert isinstance(event, TradeEvent)
    assert event.aggregate
    assert event.trade.id == 12345


def test_depth_event_parses_raw_and_combined() -> None:
    raw = parse_ws_message(frame(DEPTH))
    combined = parse_ws_message(frame({"stream": "bnbbtc@depth@100ms", "data": DEPTH}))
    assert raw == combined
    assert isinstance(raw, DepthEvent)
    assert raw.symbol == "BNBBTC"
    assert (raw.diff.first_update, raw.diff.final_update) == (157, 160)
    assert raw.diff.bids == ((Decimal("0.0024"), Decimal("10")),)


@pytest.mark.parametrize(
    "payload",
    [
        TRADE | {"p": 1.5},
        TRADE | {"m": "yes"},
        TRADE | {"t": -1},
        AGG_TRADE | {"a": None},
        TRADE | {"s": ""},
        DEPTH | {"U": 161},
    ],
)
def test_malformed_market_events_are_protocol_errors(payload: dict[str, object]) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_ws_message(frame(payload))


def test_market_event_on_another_symbols_stream_is_rejected() -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_ws_message(frame({"stream": "ethusdt@trade", "data": TRADE}))


# --- against the simulator -----------------------------------------------------------------


def sim() -> SimExchange:
    return SimExchange(SimConfig(start_ms=START_MS, speed=10, push_interval_s=0.1))


def client(exchange: SimExchange) -> KlineStream:
    backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(5))
    return KlineStream(exchange.ws_base, backoff=backoff, data_timeout=3.0)


async def collect_for(stream: KlineStream, seconds: float) -> list[StreamEvent]:
    """Every event for ``seconds``, from an iterator of its own (the timeout ends it)."""
    events = stream.events()
    deadline = asyncio.get_running_loop().time() + seconds
    seen: list[StreamEvent] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            while True:
                seen.append(await anext(events))
    return seen


async def until(
    events: AsyncIterator[StreamEvent], wanted: Callable[[StreamEvent], bool]
) -> list[StreamEvent]:
    """Events up to and including the first one ``wanted`` accepts."""
    seen: list[StreamEvent] = []
    async with asyncio.timeout(8):
        async for event in events:
            seen.append(event)
            if wanted(event):
                return seen
    raise AssertionError(f"stream ended; saw {seen}")


def trade_ids(events: list[StreamEvent], symbol: str, *, aggregate: bool) -> list[int]:
    return [
        e.trade.id
        for e in events
        if isinstance(e, TradeEvent) and e.symbol == symbol and e.aggregate == aggregate
    ]


def depth_chain(events: list[StreamEvent]) -> list[tuple[int, int]]:
    return [(e.diff.first_update, e.diff.final_update) for e in events if isinstance(e, DepthEvent)]


def is_raw(event: StreamEvent) -> bool:
    return isinstance(event, DepthEvent | TradeEvent)


async def test_depth_and_trades_arrive_in_order_beside_klines_on_one_connection() -> None:
    async with sim() as exchange, client(exchange) as stream:
        await stream.set_topics([BTC_1M])
        await stream.add_streams(RAW)
        seen = await collect_for(stream, 1.5)
        assert len(stream.connections()) == 1
        assert stream.connections()[0].streams == 4
        assert stream.market_streams() == RAW
    assert any(isinstance(e, KlineUpdate) and e.topic == BTC_1M for e in seen)
    for ids in (
        trade_ids(seen, "BTCUSDT", aggregate=False),
        trade_ids(seen, "ETHUSDT", aggregate=True),
    ):
        assert len(ids) > 3
        assert ids == list(range(ids[0], ids[0] + len(ids)))
    chain = depth_chain(seen)
    assert len(chain) >= 3
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(chain))
    assert not any(isinstance(e, Reconnected | StreamsReconnected | Disconnected) for e in seen)


async def test_drop_announces_raw_streams_before_their_next_event() -> None:
    async with sim() as exchange, client(exchange) as stream:
        await stream.set_topics([BTC_1M])
        await stream.add_streams(RAW)
        events = stream.events()
        await until(events, is_raw)
        exchange.faults.drop_connections()
        before = await until(events, lambda e: isinstance(e, Disconnected))
        after = await until(events, is_raw)
        assert stream.stats.reconnects == 1
    assert Reconnected(frozenset({BTC_1M})) in after
    announced = after.index(StreamsReconnected(RAW))
    assert not any(is_raw(e) for e in after[:announced])
    assert not any(isinstance(e, StreamsReconnected) for e in before)


async def test_raw_stream_only_connection_announces_streams_only() -> None:
    async with sim() as exchange, client(exchange) as stream:
        await stream.add_streams(["btcusdt@trade"])
        events = stream.events()
        await until(events, is_raw)
        exchange.faults.drop_connections()
        after = await until(events, lambda e: isinstance(e, StreamsReconnected))
        assert is_raw(await anext(events))
    assert after[-1] == StreamsReconnected(frozenset({"btcusdt@trade"}))
    assert not any(isinstance(e, Reconnected | Disconnected) for e in after)


async def test_remove_streams_unsubscribes_and_closes_an_empty_connection() -> None:
    async with sim() as exchange, client(exchange) as stream:
        await stream.add_streams(["btcusdt@trade", "btcusdt@depth@100ms"])
        await until(stream.events(), lambda e: isinstance(e, TradeEvent))
        await stream.remove_streams(["btcusdt@trade"])
        await collect_for(stream, 0.3)  # the UNSUBSCRIBE reply is on its way
        later = await collect_for(stream, 1.0)
        assert not any(isinstance(e, TradeEvent) for e in later)
        assert any(isinstance(e, DepthEvent) for e in later)
        assert stream.market_streams() == {"btcusdt@depth@100ms"}
        await stream.remove_streams(["btcusdt@depth@100ms"])
        assert stream.connections() == []


@pytest.mark.parametrize(
    "name", ["BTCUSDT@depth", "btcusdt@kline_1m", "btcusdt@depth@1000ms", "@trade", "btcusdt"]
)
async def test_add_streams_rejects_other_names(name: str) -> None:
    async with KlineStream("ws://127.0.0.1:9") as stream:
        with pytest.raises(InvalidRequest):
            await stream.add_streams(["btcusdt@trade", name])
        assert stream.connections() == []
