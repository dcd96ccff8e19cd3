"""A client's book equals the exchange's true book at every update it reaches, through a
hub resync (a broken diff chain upstream), the hub's dropped upstream and a cut socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from client.relay import Relay
from marketcast.client import BookStream, Client, Level
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.truth.book import PRICE_DIGITS
from support.servers import running_hub, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SYMBOL = "BTCUSDT"
SIM = SimConfig(seed=11, symbols=(SYMBOL,), speed=10.0)


def truth(sim: SimExchange, update_id: int) -> tuple[list[Level], list[Level]]:
    """The exchange's book right after ``update_id``, as exact decimals."""
    spec = sim.truth.tape.spec(SYMBOL)
    book = sim.book_at(SYMBOL, update_id, "spot")

    def side(levels: tuple[tuple[int, int], ...]) -> list[Level]:
        return [
            (
                Decimal(price).scaleb(-spec.price_decimals - PRICE_DIGITS),
                Decimal(quantity).scaleb(-spec.qty_decimals),
            )
            for price, quantity in levels
        ]

    return side(book.bids), side(book.asks)


async def test_the_book_equals_the_true_book_through_resyncs_and_reconnects() -> None:
    async with (
        running_hub(SIM, symbols=(SYMBOL,), intervals=("1m",), feeds=("books",)) as hub,
        Relay(hub.http) as relay,
    ):
        await wait_ready(hub.http)
        faults: list[Callable[[], int]] = [
            lambda: hub.sim.faults.depth_gap(1),  # the hub resyncs: a snapshot with reset
            hub.sim.faults.drop_connections,
            relay.cut,  # the client resubscribes: a fresh snapshot
        ]
        checks = changes = 0
        async with Client(relay.http) as client, client.book(SYMBOL) as stream:
            async with asyncio.timeout(70):
                async for book in stream:
                    assert book.exact
                    assert book.last_update_id is not None
                    assert (stream.bids, stream.asks) == truth(hub.sim, book.last_update_id)
                    assert stream.synced
                    checks += 1
                    changes = checks - stream.snapshots
                    if faults and changes >= 10 * (4 - len(faults)):
                        assert faults.pop(0)() >= 1
                    if not faults and changes >= 40 and stream.snapshots >= 3:
                        break
            spread = stream.spread()
        assert stream.link.reconnects >= 1
        assert spread is not None
        assert spread > 0
        assert_best_first(stream)


def assert_best_first(stream: BookStream) -> None:
    bids, asks = stream.bids, stream.asks
    assert [price for price, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [price for price, _ in asks] == sorted(p for p, _ in asks)
    assert all(quantity > 0 for _, quantity in bids + asks)
