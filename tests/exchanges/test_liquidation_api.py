"""The liquidation history client: the payload it maps, and that every failure is just ``[]``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from marketcast.domain.liquidations import Liquidation
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.force_orders import liquidated_quantity, parse_force_order_event
from marketcast.exchanges.liquidation_api import LiquidationHistoryClient, parse_history
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.liquidations import truth_liquidations
from support.redis_server import free_port

T0 = 1_700_000_000_123


def row(**overrides: Any) -> dict[str, Any]:
    """One entry as the service documents it (seed 004's field names)."""
    return {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "order_type": "LIMIT",
        "time_in_force": "IOC",
        "original_quantity": "0.020",
        "price": "37000.10",
        "average_price": "37010.00",
        "order_status": "PARTIALLY_FILLED",
        "order_last_filled_quantity": "0.004",
        "order_filled_accumulated_quantity": "0.014",
        "order_trade_time": T0,
    } | overrides


# -- parsing ---------------------------------------------------------------------------


def test_the_liquidated_amount_is_the_accumulated_filled_quantity() -> None:
    parsed, unusable = parse_history("BTCUSDT", {"symbol": "BTCUSDT", "data": [row()]})
    assert unusable == 0
    assert parsed == [
        Liquidation(
            "BTCUSDT", "SELL", Decimal("0.014"), Decimal("37000.10"), Decimal("37010.00"), T0
        )
    ]


def test_a_bare_list_is_accepted_and_numbers_may_be_json_numbers() -> None:
    parsed, _ = parse_history("BTCUSDT", [row(side="BUY", price=37000.1, average_price=0)])
    assert (parsed[0].side, parsed[0].price, parsed[0].avg_price) == (
        "BUY",
        Decimal("37000.1"),
        Decimal(0),
    )


@pytest.mark.parametrize(
    "unfilled",
    [
        row(order_filled_accumulated_quantity="0"),
        row(order_filled_accumulated_quantity=None),
        {k: v for k, v in row().items() if k != "order_filled_accumulated_quantity"},
    ],
    ids=["zero", "null", "missing"],
)
def test_an_unfilled_entry_counts_its_original_quantity_like_the_live_stream(
    unfilled: dict[str, Any],
) -> None:
    # The same rule as @forceOrder's z-then-q, so one liquidation has one key whichever
    # source brings it, and no zero-quantity liquidation reaches the buckets.
    parsed, unusable = parse_history("BTCUSDT", [unfilled])
    assert (unusable, parsed[0].quantity) == (0, Decimal("0.020"))
    live = parse_force_order_event(
        {
            "e": "forceOrder",
            "E": T0,
            "o": {
                "s": "BTCUSDT",
                "S": "SELL",
                "q": "0.020",
                "p": "37000.10",
                "ap": "37010.00",
                "z": "0",
                "T": T0,
            },
        }
    ).liquidation
    assert live.key == parsed[0].key


def test_history_comes_newest_first_whatever_the_service_order() -> None:
    rows = [row(order_trade_time=T0 + n) for n in (1, 3, 2)]
    parsed, _ = parse_history("BTCUSDT", {"data": rows})
    assert [p.time_ms for p in parsed] == [T0 + 3, T0 + 2, T0 + 1]


@pytest.mark.parametrize(
    "bad",
    [
        row(side="LONG"),
        row(order_trade_time="yesterday"),
        row(order_trade_time=True),
        row(price="abc"),
        row(average_price="NaN"),
        row(order_filled_accumulated_quantity=True),
        row(price="-1"),
        row(order_filled_accumulated_quantity="0", original_quantity="0"),
        row(order_filled_accumulated_quantity=None, original_quantity=None),
        "not an object",
    ],
)
def test_unusable_entries_are_counted_and_skipped(bad: object) -> None:
    parsed, unusable = parse_history("BTCUSDT", {"data": [bad, row()]})
    assert (len(parsed), unusable) == (1, 1)


@pytest.mark.parametrize("payload", [{"detail": "no"}, {"data": "x"}, "text", 7, None])
def test_a_payload_without_a_list_is_a_protocol_error(payload: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_history("BTCUSDT", payload)


def maybe(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@pytest.mark.parametrize(
    ("filled", "original", "counted"),
    [("0.5", "1", "0.5"), ("0", "1", "1"), (None, "1", "1"), ("0.5", None, "0.5")],
)
def test_the_liquidated_quantity_is_the_filled_one_else_the_original(
    filled: str | None, original: str | None, counted: str
) -> None:
    assert liquidated_quantity(maybe(filled), maybe(original)) == Decimal(counted)


@pytest.mark.parametrize(("filled", "original"), [("0", "0"), (None, None), ("0", None)])
def test_no_quantity_at_all_is_not_a_liquidation(filled: str | None, original: str | None) -> None:
    with pytest.raises(ExchangeProtocolError):
        liquidated_quantity(maybe(filled), maybe(original))


# -- failures are empty history with one warning ---------------------------------------


def answering(response: httpx.Response) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: response)


async def recent_via(transport: httpx.AsyncBaseTransport | None, base: str) -> list[Liquidation]:
    async with LiquidationHistoryClient(base, transport=transport, timeout_s=0.5) as client:
        return await client.recent("BTCUSDT")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(404, json={"detail": "unknown symbol"}),
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json={"error": "no data"}),
    ],
    ids=["5xx", "404", "not-json", "no-list"],
)
async def test_a_failing_service_gives_empty_history_and_one_warning(
    response: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="marketcast.exchanges.liquidation_api"):
        assert await recent_via(answering(response), "http://history.test") == []
    assert len(caplog.records) == 1
    assert "live data only" in caplog.records[0].getMessage()


async def test_an_unreachable_service_gives_empty_history(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="marketcast.exchanges.liquidation_api"):
        assert await recent_via(None, f"http://127.0.0.1:{free_port()}") == []
    assert len(caplog.records) == 1


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A real server that accepts and reads but never answers: a hung service."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def test_a_hung_service_times_out_into_empty_history(silent_server: str) -> None:
    async with asyncio.timeout(10):
        assert await recent_via(None, silent_server) == []


async def test_the_request_names_the_symbol_and_limit_under_the_base_path() -> None:
    seen: list[httpx.URL] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"data": [row(order_trade_time=T0 + n) for n in range(5)]})

    async with LiquidationHistoryClient(
        "http://history.test/api/", transport=httpx.MockTransport(record)
    ) as client:
        got = await client.recent("BTCUSDT", limit=3)
    assert [str(url) for url in seen] == [
        "http://history.test/api/liquidation-history/BTCUSDT?limit=3"
    ]
    # A service that ignores the limit is cut to it, keeping the newest.
    assert [g.time_ms for g in got] == [T0 + 4, T0 + 3, T0 + 2]


async def test_some_unusable_entries_warn_and_keep_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = json.dumps({"data": [row(), row(side="?")]})
    with caplog.at_level(logging.WARNING, logger="marketcast.exchanges.liquidation_api"):
        got = await recent_via(answering(httpx.Response(200, text=body)), "http://h.test")
    assert len(got) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "liquidation history for BTCUSDT: 1 unusable entries"
    ]


# -- against the simulator's history service -------------------------------------------


async def test_recent_reads_the_simulator_history_newest_first() -> None:
    async with (
        SimExchange(SimConfig(symbols=("BTCUSDT", "SOLUSDT"), futures_symbols=("BTCUSDT",))) as sim,
        LiquidationHistoryClient(sim.rest_base) as client,
    ):
        got = await client.recent("BTCUSDT", limit=20)
        assert len(got) == 20
        assert got[::-1] == truth_liquidations(sim, "BTCUSDT", got[-1].time_ms, got[0].time_ms)
        assert got[0].time_ms <= sim.clock.now_ms()


async def test_a_symbol_the_service_does_not_know_is_empty_history(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        SimExchange(SimConfig(symbols=("BTCUSDT", "SOLUSDT"), futures_symbols=("BTCUSDT",))) as sim,
        LiquidationHistoryClient(sim.rest_base) as client,
    ):
        with caplog.at_level(logging.WARNING, logger="marketcast.exchanges.liquidation_api"):
            assert await client.recent("SOLUSDT") == []
    assert len(caplog.records) == 1
