"""The soak's liquidation account: the relay that records deliveries, and the comparison."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from marketcast.domain.liquidations import Liquidation
from marketcast.exchanges.sim import SimConfig, SimExchange
from soak.liquidations import KILL_MARGIN_S, LiquidationAccount, check_symbol, delivered_minutes
from soak.relay import Delivery, Relay, force_order

START_MS = 1_780_272_000_000
STREAMS = "/market/stream?streams=btcusdt@forceOrder/ethusdt@forceOrder"


def sim_config() -> SimConfig:
    return SimConfig(seed=7, symbols=("BTCUSDT", "ETHUSDT"), start_ms=START_MS, speed=60.0)


async def test_the_relay_records_each_liquidation_it_passes_on_as_the_exchange_sent_it() -> None:
    async with SimExchange(sim_config()) as sim, Relay(sim.ws_base) as relay:
        async with connect(relay.base + STREAMS) as ws, asyncio.timeout(30):
            received = [force_order(await ws.recv()) for _ in range(5)]
            while len(relay.delivered) < len(received):  # noted just after the send
                await asyncio.sleep(0.01)
        assert [delivery.liquidation for delivery in relay.delivered[:5]] == received
        for delivery in relay.delivered:
            found = delivery.liquidation
            (true,) = sim.futures_truth.liquidations(found.symbol, found.time_ms, found.time_ms)
            lot = Decimal(1).scaleb(-sim.futures_truth.tape.spec(found.symbol).qty_decimals)
            assert (found.side, found.quantity) == (true.side, true.qty * lot)


async def test_the_relay_ends_connections_as_the_exchange_does() -> None:
    async with SimExchange(sim_config()) as sim, Relay(sim.ws_base) as relay:
        url = relay.base + STREAMS

        async def ended_by(fault: Callable[[], object]) -> ConnectionClosed:
            async with connect(url) as ws, asyncio.timeout(30):
                await ws.recv()
                fault()
                try:
                    while True:
                        await ws.recv()
                except ConnectionClosed as closed:
                    return closed

        dropped = await ended_by(sim.faults.drop_connections)
        assert dropped.rcvd is None, "an abrupt drop stays abrupt: no close frame"
        shut = await ended_by(lambda: sim.faults.server_shutdown(0.2))
        assert shut.rcvd is not None
        assert shut.rcvd.code == 1001
        sim.faults.downtime(120_000)
        with pytest.raises(InvalidStatus) as refused:
            await connect(url)
        assert refused.value.response.status_code == 503


# -- the comparison (pure) ----------------------------------------------------------------
def liq(second: int, quantity: str = "1", side: str = "SELL") -> Liquidation:
    return Liquidation(
        "BTCUSDT",
        "BUY" if side == "BUY" else "SELL",
        Decimal(quantity),
        Decimal(100),
        Decimal(100),
        START_MS + second * 1000,
    )


def buckets(*liquidations: Liquidation) -> list[dict[str, Any]]:
    """The node's one-minute buckets holding ``liquidations``, as REST shows them."""
    rows: dict[int, dict[str, Any]] = {}
    for item in liquidations:
        open_ms = item.time_ms - item.time_ms % 60_000
        row = rows.setdefault(
            open_ms, {"timestamp_ms": open_ms, "count": 0, "buy": Decimal(0), "sell": Decimal(0)}
        )
        row["count"] += 1
        row["buy" if item.side == "BUY" else "sell"] += item.quote_value
    for row in rows.values():
        row["buy_volume"], row["sell_volume"] = float(row.pop("buy")), float(row.pop("sell"))
    return list(rows.values())


def lost(deliveries: list[Delivery], held: list[dict[str, Any]], kills: list[float]) -> int:
    minutes, _ = delivered_minutes(deliveries, kills)
    account = LiquidationAccount()
    check_symbol(account, "BTCUSDT", minutes.get("BTCUSDT", {}), held)
    return account.lost


def test_what_was_delivered_and_is_held_is_no_loss_and_repeats_count_once() -> None:
    given = [Delivery(1.0, liq(1)), Delivery(1.1, liq(1)), Delivery(2.0, liq(70, side="BUY"))]
    assert lost(given, buckets(liq(1), liq(70, side="BUY")), kills=[]) == 0


def test_a_delivered_liquidation_not_held_or_held_differently_is_lost() -> None:
    given = [Delivery(1.0, liq(1)), Delivery(2.0, liq(2))]
    assert lost(given, buckets(liq(1)), kills=[]) == 1
    assert lost(given, buckets(liq(1), liq(2, quantity="2")), kills=[]) == 1
    assert lost(given, buckets(liq(1), liq(2), liq(3)), kills=[]) == 1  # never delivered


def test_a_delivery_just_before_its_node_was_killed_counts_neither_way() -> None:
    given = [Delivery(10.0, liq(1)), Delivery(50.0, liq(2))]
    kill = 50.0 + KILL_MARGIN_S / 2
    assert lost(given, buckets(liq(1)), kills=[kill]) == 0
    assert lost(given, buckets(liq(1), liq(2)), kills=[kill]) == 0
    assert lost(given, buckets(), kills=[kill]) == 1


def test_a_delivery_after_the_kill_went_to_the_restarted_node_and_counts() -> None:
    given = [Delivery(50.0, liq(1))]
    assert lost(given, buckets(), kills=[49.9]) == 1
