"""A client following trades holds the exchange's trades in id order without a hole or a
repeat, through the hub's dropped upstream and cuts of its own socket."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from client.consumers import TradeCopy, until
from client.relay import Relay
from marketcast.client import Client
from marketcast.exchanges.sim import SimConfig
from support.servers import running_hub, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SYMBOL = "BTCUSDT"
SIM = SimConfig(seed=17, symbols=(SYMBOL,), speed=5.0)


async def newest_id(rest: httpx.AsyncClient) -> int:
    """The newest trade id the hub holds, read past the client's relay (0 while the tape
    resyncs after the dropped upstream and answers 503)."""
    response = await rest.get(f"/trades/{SYMBOL}", params={"limit": 1})
    trades = response.json().get("trades") if response.status_code == 200 else None
    return int(trades[-1]["id"]) if trades else 0


async def test_the_followed_trades_are_the_exchange_trades_in_order() -> None:
    async with (
        running_hub(SIM, symbols=(SYMBOL,), intervals=("1m",), feeds=("trades",)) as hub,
        Relay(hub.http) as relay,
    ):
        await wait_ready(hub.http)
        copy = TradeCopy()
        async with Client(relay.http) as client, client.trades(SYMBOL, history=20) as stream:
            consumer = asyncio.create_task(copy.consume(stream))

            async def moved_on(count: int = 20) -> None:
                mark = len(copy.trades)
                await until(lambda: len(copy.trades) >= mark + count and stream.live)

            await moved_on()
            assert hub.sim.faults.drop_connections() >= 1
            await moved_on()
            assert relay.cut() == 1
            await moved_on()
            relay.refusing = True  # away while trades go on: resumed after the last id
            relay.cut()
            away_from = copy.trades[-1].id
            async with httpx.AsyncClient(base_url=hub.http) as rest, asyncio.timeout(30):
                while (await newest_id(rest)) < away_from + 30:
                    await asyncio.sleep(0.05)
            relay.refusing = False
            await moved_on()
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)

        assert copy.resets == []
        assert stream.link.reconnects >= 2
        assert any(trade.id > away_from + 30 for trade in copy.trades)
        ids = [trade.id for trade in copy.trades]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "a hole or a repeat"
        now = hub.sim.clock.now_ms()
        exchange = hub.sim.truth.trades(SYMBOL, from_id=ids[0], end_ms=now)[: len(ids)]
        assert [t.trade_id for t in exchange] == ids
        spec = hub.sim.truth.tape.spec(SYMBOL)
        for held, true in zip(copy.trades, exchange, strict=True):
            price = float(Decimal(true.price).scaleb(-spec.price_decimals))
            amount = float(Decimal(true.qty).scaleb(-spec.qty_decimals))
            side = "sell" if true.is_buyer_maker else "buy"
            assert (held.price, held.amount, held.side) == (price, amount, side), held.id
            assert held.timestamp == true.time
        assert stream.tape.trades() == copy.trades
