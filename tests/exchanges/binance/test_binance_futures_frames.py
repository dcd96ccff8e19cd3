"""USD-M futures stream frames: forceOrder liquidations, depth with ``pu``, futures klines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from marketcast.domain.liquidations import Liquidation
from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeProtocolError, InvalidRequest
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.force_orders import parse_force_order_event
from marketcast.exchanges.binance.messages import KlineUpdate, LiquidationEvent
from marketcast.exchanges.binance.parse import check_market_stream, parse_ws_message

D = Decimal

# Shaped like the USD-M "Liquidation Order Streams" example (values made up).
FORCE_ORDER: dict[str, Any] = {
    "e": "forceOrder", "E": 1700000000123,
    "o": {
        "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.250",
        "p": "36012.40", "ap": "36050.10", "X": "FILLED", "l": "0.100", "z": "0.250",
        "T": 1700000000120,
    },
}  # fmt: skip
# Shaped like the USD-M "Diff. Book Depth Streams" example.
FUTURES_DEPTH: dict[str, Any] = {
    "e": "depthUpdate", "E": 1700000000500, "T": 1700000000498, "s": "BTCUSDT",
    "U": 157, "u": 160, "pu": 149,
    "b": [["36000.10", "1.5"]], "a": [["36000.20", "0"]],
}  # fmt: skip
# A futures kline event carries the spot fields (values made up).
FUTURES_KLINE: dict[str, Any] = {
    "e": "kline", "E": 1700000000250, "s": "BTCUSDT",
    "k": {
        "t": 1699999980000, "T": 1700000039999, "s": "BTCUSDT", "i": "1m", "f": 100,
        "L": 200, "o": "36000.0", "c": "36010.5", "h": "36020.0", "l": "35990.0",
        "v": "12.345", "n": 101, "x": False, "q": "444444.4", "V": "6.0", "Q": "216000.0",
        "B": "0",
    },
}  # fmt: skip


def frame(payload: object) -> str:
    return orjson.dumps(payload).decode()


def with_order(**changes: object) -> dict[str, Any]:
    order = {k: v for k, v in {**FORCE_ORDER["o"], **changes}.items() if v is not None}
    return {**FORCE_ORDER, "o": order}


# --- forceOrder ----------------------------------------------------------------------------


def test_force_order_becomes_a_liquidation_of_the_filled_quantity() -> None:
    event = parse_force_order_event(FORCE_ORDER)
    assert event == LiquidationEvent(
        symbol="BTCUSDT",
        liquidation=Liquidation(
            symbol="BTCUSDT",
            side="SELL",
            quantity=D("0.250"),
            price=D("36012.40"),
            avg_price=D("36050.10"),
            time_ms=1700000000120,
        ),
        event_time=1700000000123,
    )


def test_force_order_counts_the_accumulated_fill_not_the_last_fill_or_the_order() -> None:
    event = parse_force_order_event(with_order(q="0.300", l="0.050", z="0.200"))
    assert event.liquidation.quantity == D("0.200")


@pytest.mark.parametrize("filled", ["0", None], ids=["zero", "absent"])
def test_force_order_not_filled_yet_falls_back_to_the_order_quantity(filled: str | None) -> None:
    event = parse_force_order_event(with_order(z=filled, l="0", ap="0", X="NEW"))
    liquidation = event.liquidation
    assert liquidation.quantity == D("0.250")
    assert liquidation.avg_price == 0
    assert liquidation.quote_value == D("0.250") * D("36012.40")


def test_force_order_arrives_through_a_combined_frame() -> None:
    raw = parse_ws_message(frame(FORCE_ORDER))
    combined = parse_ws_message(frame({"stream": "btcusdt@forceOrder", "data": FORCE_ORDER}))
    assert raw == combined
    assert isinstance(combined, LiquidationEvent)
    assert combined.liquidation.side == "SELL"


def test_force_order_on_another_symbols_stream_is_rejected() -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_ws_message(frame({"stream": "ethusdt@forceOrder", "data": FORCE_ORDER}))


def test_buy_force_order_is_a_short_liquidated() -> None:
    event = parse_force_order_event(with_order(S="BUY"))
    assert event.liquidation.side == "BUY"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {**FORCE_ORDER, "e": "forceOrders"},
        {**FORCE_ORDER, "o": None},
        {**FORCE_ORDER, "E": "soon"},
        with_order(s=""),
        with_order(S="sell"),
        with_order(S=None),
        with_order(z="-1"),
        with_order(z="0", q="0"),
        with_order(q=0.25, z=None),
        with_order(p="0", ap="0"),
        with_order(ap="abc"),
        with_order(T=None),
    ],
)
def test_malformed_force_order_is_a_protocol_error(payload: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_force_order_event(payload)


# --- depth and klines ----------------------------------------------------------------------


def test_depth_update_with_pu_is_parsed_as_futures() -> None:
    event = parse_ws_message(frame({"stream": "btcusdt@depth@500ms", "data": FUTURES_DEPTH}))
    assert isinstance(event, DepthEvent)
    assert event.diff.previous_final == 149
    assert (event.diff.first_update, event.diff.final_update) == (157, 160)
    assert event.diff.bids == ((D("36000.10"), D("1.5")),)


def test_depth_update_without_pu_stays_spot() -> None:
    spot = {k: v for k, v in FUTURES_DEPTH.items() if k not in ("pu", "T")}
    event = parse_ws_message(frame(spot))
    assert isinstance(event, DepthEvent)
    assert event.diff.previous_final is None


def test_depth_update_with_a_broken_pu_is_a_protocol_error() -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_ws_message(frame({**FUTURES_DEPTH, "pu": "149"}))


def test_futures_kline_event_parses_like_spot() -> None:
    update = parse_ws_message(frame({"stream": "btcusdt@kline_1m", "data": FUTURES_KLINE}))
    assert isinstance(update, KlineUpdate)
    assert update.topic == Topic.of("BTCUSDT", "1m")
    assert update.candle.trades == 101
    assert update.candle.close == 36010.5
    assert not update.candle.closed


# --- stream names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "btcusdt@forceOrder",
        "btcusdt@depth@250ms",
        "btcusdt@depth@500ms",
        "btcusdt@depth@100ms",
        "btcusdt@depth",
        "1000pepeusdt@aggTrade",
    ],
)
def test_futures_stream_names_are_carried(name: str) -> None:
    assert check_market_stream(name) == name


@pytest.mark.parametrize(
    "name", ["btcusdt@forceorder", "BTCUSDT@forceOrder", "btcusdt@depth@1000ms", "@forceOrder"]
)
def test_other_stream_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        check_market_stream(name)
