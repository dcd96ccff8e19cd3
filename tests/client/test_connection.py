"""How a stream lives through what a hub can do to its socket, against a scripted hub.

The hub here is a real WebSocket server on loopback that plays a script: refusals, a
broken change chain, a slow-consumer close, a reset, a hub without the depth channel.
A real hub shows these only under load, after hours away, or not at all (a bug, an older
version); what it shows readily (dropped sockets, restarts, resyncs) is tested against a
real one in ``test_candles.py``, ``test_candles_redis.py``, ``test_book_follow.py`` and
``test_trades_follow.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from client.scripted import Json, receive, scripted_hub, send
from marketcast.client import Candle, Client, HubError, Reset
from marketcast.client.hub import socket_url

pytestmark = [pytest.mark.timeout(30)]


def row(time: int, close: float, *, closed: bool = True) -> Json:
    return {
        "time": time,
        "open": 1,
        "high": 9,
        "low": 0.5,
        "close": close,
        "volume": 3,
        "closed": closed,
    }


def candle(time: int, close: float, *, closed: bool = True) -> Candle:
    return Candle(time, 1.0, 9.0, 0.5, close, 3.0, closed)


def candles_snapshot(*rows: Json, reset: bool = False) -> Json:
    return {"type": "snapshot", "channel": "candles", "reset": reset, "candles": list(rows)}


async def take(stream: AsyncIterator[Any], count: int) -> list[Any]:
    got: list[Any] = []
    async with asyncio.timeout(20):
        async for event in stream:
            got.append(event)
            if len(got) == count:
                return got
    return got


async def test_a_slow_consumer_close_is_resumed_with_since_and_nothing_repeats() -> None:
    subscribes: list[Json] = []

    async def script(socket: ServerConnection, n: int) -> None:
        subscribes.append(await receive(socket))
        if n == 0:
            await send(socket, candles_snapshot(row(60, 1.0), row(120, 2.0, closed=False)))
            await send(
                socket,
                {"type": "candle", "channel": "candles", "candle": row(120, 2.2, closed=False)},
            )
            await socket.close(4008, "slow consumer: resume with since")
            return
        await send(socket, candles_snapshot(row(120, 2.5), row(180, 3.0, closed=False)))
        await socket.wait_closed()

    async with scripted_hub(script) as url, Client(url) as client:
        stream = client.candles("BTCUSDT", "1m", history=2)
        async with stream:
            got = await take(stream, 5)
        assert got == [
            candle(60, 1.0),
            candle(120, 2.0, closed=False),
            candle(120, 2.2, closed=False),
            candle(120, 2.5),
            candle(180, 3.0, closed=False),
        ]
        assert stream.series.candles() == [candle(60, 1.0), candle(120, 2.5), got[-1]]
        assert stream.link.last_close_code == 4008
        assert stream.link.reconnects == 1
    assert subscribes[0] == {
        "op": "subscribe",
        "channel": "candles",
        "symbol": "BTCUSDT",
        "interval": "1m",
        "limit": 2,
    }
    assert subscribes[1] == subscribes[0] | {"since": 120}


async def test_a_reset_is_yielded_before_the_new_snapshot() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await receive(socket)
        if n == 0:
            await send(socket, candles_snapshot(row(60, 1.0), row(120, 2.0)))
            await socket.close(1012, "restart")
            return
        await send(socket, candles_snapshot(row(9000, 5.0), reset=True))
        await socket.wait_closed()

    async with (
        scripted_hub(script) as url,
        Client(url) as client,
        client.candles("BTCUSDT", "1m") as stream,
    ):
        got = await take(stream, 4)
        assert got[2] == Reset("candles", dropped=2, last_held=120)
        assert got[3] == candle(9000, 5.0)
        assert stream.series.candles() == [candle(9000, 5.0)]


async def test_not_ready_is_waited_out_on_the_same_socket() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await receive(socket)
        await send(socket, {"type": "error", "code": "not_ready", "message": "loading"})
        await receive(socket)
        await send(socket, candles_snapshot(row(60, 1.0)))
        await socket.wait_closed()

    async with (
        scripted_hub(script) as url,
        Client(url) as client,
        client.candles("BTCUSDT", "1m") as stream,
    ):
        assert await take(stream, 1) == [candle(60, 1.0)]
        assert stream.link.connects == 1


async def test_a_refusal_no_wait_can_fix_is_raised() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await receive(socket)
        await send(
            socket,
            {
                "type": "error",
                "code": "unknown_symbol",
                "message": "unknown symbol 'BTCXUSDT'; did you mean BTCUSDT?",
                "suggestions": ["BTCUSDT"],
            },
        )
        await socket.wait_closed()

    async with (
        scripted_hub(script) as url,
        Client(url) as client,
        client.trades("BTCXUSDT") as stream,
    ):
        with pytest.raises(HubError, match="did you mean BTCUSDT") as raised:
            await take(stream, 1)
    assert raised.value.code == "unknown_symbol"
    assert raised.value.details == {"suggestions": ["BTCUSDT"]}


async def test_a_policy_close_is_raised_not_retried() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await socket.close(1008, "batch_ms must be an integer 0..1000")

    async with (
        scripted_hub(script) as url,
        Client(url) as client,
        client.book("BTCUSDT") as stream,
    ):
        with pytest.raises(HubError, match="1008"):
            await take(stream, 1)


async def test_a_refused_handshake_is_retried_after_its_retry_after() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await receive(socket)
        await send(socket, candles_snapshot(row(60, 1.0)))
        await socket.wait_closed()

    async with (
        scripted_hub(script, refuse_first=2) as url,
        Client(url) as client,
        client.candles("BTCUSDT", "1m") as stream,
    ):
        started = asyncio.get_running_loop().time()
        assert await take(stream, 1) == [candle(60, 1.0)]
        assert asyncio.get_running_loop().time() - started >= 2.0  # 1 s after each
        assert "503" in (stream.link.last_error or "")


async def test_a_forbidden_handshake_is_an_authentication_error() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await socket.wait_closed()

    async with (
        scripted_hub(script, refuse_first=1, refusal=HTTPStatus.FORBIDDEN) as url,
        Client(url, token="wrong") as client,
        client.candles("BTCUSDT", "1m") as stream,
    ):
        with pytest.raises(HubError, match="token") as raised:
            await take(stream, 1)
    assert type(raised.value).__name__ == "AuthenticationError"


async def test_a_broken_change_chain_is_resynced_on_the_same_socket() -> None:
    def depth_snapshot(last: int) -> Json:
        return {
            "type": "snapshot",
            "channel": "depth",
            "reset": False,
            "last_update_id": last,
            "bids": [["10.0", "1"]],
            "asks": [["11.0", "2"]],
        }

    def change(first: int, last: int, bid: str) -> Json:
        return {
            "type": "depth",
            "channel": "depth",
            "first_update_id": first,
            "last_update_id": last,
            "bids": [["10.0", bid]],
            "asks": [],
        }

    async def script(socket: ServerConnection, n: int) -> None:
        await receive(socket)
        await send(socket, depth_snapshot(5))
        await send(socket, change(6, 7, "3"))
        await send(socket, change(9, 9, "4"))  # 8 never came
        await send(socket, change(10, 10, "5"))  # still the old subscription's
        assert (await receive(socket))["channel"] == "depth"
        await send(socket, depth_snapshot(20))
        await socket.wait_closed()

    async with (
        scripted_hub(script) as url,
        Client(url) as client,
        client.book("BTCUSDT") as stream,
    ):
        books = await take(stream, 3)
        assert stream.snapshots == 2
        assert stream.last_update_id == 20
        assert stream.bids == [(Decimal("10.0"), Decimal("1"))]
        assert stream.link.connects == 1
        assert len(books) == 3


async def test_a_hub_without_the_depth_channel_serves_the_aggregated_book() -> None:
    subscribes: list[Json] = []

    async def script(socket: ServerConnection, n: int) -> None:
        subscribes.append(await receive(socket))
        await send(socket, {"type": "error", "code": "unknown_channel", "message": "no depth"})
        subscribes.append(await receive(socket))
        view = {
            "type": "snapshot",
            "channel": "orderbook",
            "update_id": 7,
            "bids": [{"price": 60123.0, "amount": 0.7001, "cumulative": 0.7001}],
            "asks": [{"price": 60124.0, "amount": 0.41, "cumulative": 0.41}],
        }
        await send(socket, view)
        await send(socket, view | {"type": "orderbook", "update_id": 8, "bids": []})
        await socket.wait_closed()

    async with (
        scripted_hub(script) as url,
        Client(url) as client,
        client.book("BTCUSDT", market="usdm") as stream,
    ):
        await take(stream, 2)
        assert not stream.exact
        assert (stream.bids, stream.asks) == ([], [(Decimal("60124.0"), Decimal("0.41"))])
        assert stream.last_update_id == 8
    assert [s["channel"] for s in subscribes] == ["depth", "orderbook"]
    assert all(s["market"] == "usdm" for s in subscribes)


async def test_closing_from_another_task_ends_the_iteration() -> None:
    async def script(socket: ServerConnection, n: int) -> None:
        await receive(socket)
        await send(socket, candles_snapshot(row(60, 1.0)))
        await socket.wait_closed()

    async with scripted_hub(script) as url, Client(url) as client:
        stream = client.candles("BTCUSDT", "1m")
        got: list[Any] = []
        arrived = asyncio.Event()

        async def consume() -> None:
            async for event in stream:
                got.append(event)
                arrived.set()

        reader = asyncio.create_task(consume())
        async with asyncio.timeout(10):
            await arrived.wait()
            await client.aclose()  # closes every stream it handed out
            await reader
        assert got == [candle(60, 1.0)]
        assert stream.link.reconnects == 0


def test_the_socket_url_follows_the_http_base() -> None:
    assert socket_url("http://127.0.0.1:8000/") == "ws://127.0.0.1:8000/ws"
    assert socket_url("https://example.com/market") == "wss://example.com/market/ws"
    with pytest.raises(ValueError, match="http"):
        socket_url("127.0.0.1:8000")
