"""REST aggTrades rows (spot and USD-M share the shape) become domain trades."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketcast.domain.trades import Trade
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.trades import parse_agg_trades

D = Decimal

# Shaped like the "Compressed/Aggregate trades list" example; USD-M rows lack "M".
SPOT_ROW: dict[str, Any] = {
    "a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27781,
    "T": 1498793709153, "m": True, "M": True,
}  # fmt: skip
FUTURES_ROW: dict[str, Any] = {
    "a": 26130, "p": "36000.10", "q": "0.004", "f": 27782, "l": 27790,
    "T": 1498793709160, "m": False,
}  # fmt: skip


def test_rows_become_trades_keyed_by_aggregate_id() -> None:
    assert parse_agg_trades([SPOT_ROW, FUTURES_ROW]) == [
        Trade(26129, D("0.01633102"), D("4.70443515"), True, 1498793709153),
        Trade(26130, D("36000.10"), D("0.004"), False, 1498793709160),
    ]


def test_an_empty_page_is_no_trades() -> None:
    assert parse_agg_trades([]) == []


@pytest.mark.parametrize(
    "rows",
    [
        [FUTURES_ROW, SPOT_ROW],
        [SPOT_ROW, SPOT_ROW],
    ],
    ids=["descending", "repeated"],
)
def test_ids_out_of_order_are_a_protocol_error(rows: list[object]) -> None:
    with pytest.raises(ExchangeProtocolError, match="ascending"):
        parse_agg_trades(rows)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"a": 1},
        [None],
        [{**SPOT_ROW, "a": None}],
        [{**SPOT_ROW, "p": 0.0163}],
        [{**SPOT_ROW, "q": "-1"}],
        [{**SPOT_ROW, "m": "true"}],
        [{**SPOT_ROW, "T": -5}],
    ],
)
def test_malformed_pages_are_protocol_errors(payload: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_agg_trades(payload)
