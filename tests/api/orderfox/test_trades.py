"""OrderFox's trades socket (docs/orderfox.md): ``trades_update`` windows over the
node's own trade tape, compared with the simulator's aggregate trades (the truth).

One hub over the simulator is shared by the module; each test opens its own sockets.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from marketcast.api.orderfox.trades import TAPE_SIZE
from marketcast.exchanges.sim import SimConfig
from support.servers import Running, running_hub, wait_ready
from support.wsio import closed_with, connect, gather_for, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SIM = SimConfig(
    seed=17,
    symbols=("BTCUSDT", "ETHUSDT"),
    futures_symbols=("BTCUSDT",),
    start_ms=START_MS,
    # ~30 trades a second: a window of the newest 100 then spans ~3 s, so the continuity
    # check tolerates a loaded machine's pauses between pushes (at 20x, ~0.3 s did not).
    speed=2.0,
)
MESSAGE_KEYS = {"type", "symbol", "trades", "initial", "timestamp"}
TRADE_KEYS = {
    "id",
    "price",
    "amount",
    "side",
    "timestamp",
    "price_formatted",
    "amount_formatted",
    "time_formatted",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(SIM, symbols=("BTCUSDT",), buffer_size=50) as running:
        await wait_ready(running.http, timeout=60)
        yield running


def assert_window(message: Json, symbol: str, *, initial: bool) -> list[int]:
    """Shape checks; returns the window's ids (newest first, one step apart)."""
    assert set(message) == MESSAGE_KEYS
    assert (message["type"], message["symbol"], message["initial"]) == (
        "trades_update",
        symbol,
        initial,
    )
    assert isinstance(message["timestamp"], int)
    for trade in message["trades"]:
        assert set(trade) == TRADE_KEYS
        assert trade["side"] in {"buy", "sell"}
        assert isinstance(trade["price"], float)
        assert isinstance(trade["amount"], float)
    ids = [trade["id"] for trade in message["trades"]]
    assert all(a - b == 1 for a, b in itertools.pairwise(ids)), "a window skips an id"
    return ids


async def exchange_tape(hub: Running, first_id: int, last_id: int) -> dict[int, Json]:
    """The simulator's aggregate trades ``first_id..last_id`` (REST, paged), by id."""
    truth: dict[int, Json] = {}
    async with httpx.AsyncClient(base_url=hub.sim.rest_base, timeout=10) as exchange:
        while first_id <= last_id:
            params: dict[str, str | int] = {"symbol": "BTCUSDT", "fromId": first_id, "limit": 1000}
            rows = (await exchange.get("/api/v3/aggTrades", params=params)).json()
            assert rows, f"the exchange has no trade {first_id}"
            truth |= {row["a"]: row for row in rows}
            first_id = rows[-1]["a"] + 1
    return truth


async def test_initial_window_then_windows_are_continuous_and_equal_the_exchange_tape(
    hub: Running,
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/trades/BTCUSDT", max_size=2**24) as ws:
        initial = await receive(ws, timeout=20)
        updates = await gather_for(ws, 2.0)
    ids = assert_window(initial, "BTCUSDT", initial=True)
    assert len(ids) == TAPE_SIZE
    assert updates, "no live trades within 2 s"
    seen = set(ids)
    for update in updates:
        window = assert_window(update, "BTCUSDT", initial=False)
        assert len(window) == TAPE_SIZE  # the whole window: the frontend replaces its list
        # Each window reaches back to one already shown: nothing falls between.
        assert window[-1] <= max(seen) + 1
        seen |= set(window)
    assert max(seen) > max(ids), "the updates bring no new trade"
    assert sorted(seen) == list(range(min(seen), max(seen) + 1))
    truth = await exchange_tape(hub, min(seen), max(seen))
    for trade in [t for message in (initial, *updates) for t in message["trades"]]:
        want = truth[trade["id"]]
        shown = (Decimal(trade["price_formatted"]), Decimal(trade["amount_formatted"]))
        assert shown == (Decimal(want["p"]), Decimal(want["q"]))
        assert (trade["timestamp"], trade["side"]) == (want["T"], "sell" if want["m"] else "buy")
        assert (trade["price"], trade["amount"]) == (float(want["p"]), float(want["q"]))


async def test_the_symbol_asked_for_is_echoed_as_the_exchange_id(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/trades/btc-usdt", max_size=2**24) as ws:
        initial = await receive(ws, timeout=20)
        update = (await receive_until(ws, lambda m: m["type"] == "trades_update"))[-1]
    assert initial["symbol"] == update["symbol"] == "BTCUSDT"


async def test_a_symbol_not_configured_is_served_on_demand(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/trades/ETHUSDT", max_size=2**24) as ws:
        initial = await receive(ws, timeout=30)
    ids = assert_window(initial, "ETHUSDT", initial=True)
    assert len(ids) == TAPE_SIZE


async def test_ping_gets_pong_and_other_messages_an_error_on_an_open_socket(
    hub: Running,
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/trades/BTCUSDT", max_size=2**24) as ws:
        await receive(ws, timeout=20)
        await ws.send('{"type": "subscribe"}')
        error = (await receive_until(ws, lambda m: m["type"] == "error"))[-1]
        assert error["code"] == "invalid_request"
        await ws.send('{"type": "ping"}')
        await receive_until(ws, lambda m: m["type"] == "pong")
        await receive_until(ws, lambda m: m["type"] == "trades_update")


async def test_an_unknown_symbol_is_an_error_with_suggestions_then_close_4000(
    hub: Running,
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/trades/BTCXUSDT") as ws:
        error = await receive(ws)
        closed = await closed_with(ws)
    assert (error["type"], error["code"]) == ("error", "unknown_symbol")
    assert "BTCUSDT" in error["suggestions"]
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4000
