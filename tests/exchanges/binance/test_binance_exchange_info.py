"""Exchange info: spot keeps every listing, USD-M only trading perpetual contracts."""

from __future__ import annotations

from typing import Any

import pytest

from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.exchange_info import (
    parse_exchange_info,
    parse_futures_exchange_info,
)
from marketcast.exchanges.binance.messages import SymbolInfo


def contract(symbol: str, contract_type: str, status: str = "TRADING") -> dict[str, Any]:
    """One ``/fapi/v1/exchangeInfo`` entry, shaped as documented (trimmed)."""
    return {
        "symbol": symbol, "pair": symbol.partition("_")[0], "contractType": contract_type,
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": status,
        "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": 2, "quantityPrecision": 3,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764",
             "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000",
             "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120",
             "stepSize": "0.001"},
        ],
    }  # fmt: skip


FUTURES_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1700000000000,
    "rateLimits": [],
    "symbols": [
        contract("BTCUSDT", "PERPETUAL"),
        contract("BTCUSDT_240628", "CURRENT_QUARTER"),
        contract("BTCUSDT_240927", "NEXT_QUARTER"),
        contract("OLDUSDT", "PERPETUAL", status="SETTLING"),
        contract("NEWUSDT", "PERPETUAL", status="PENDING_TRADING"),
        contract("GONEUSDT", "PERPETUAL", status="CLOSE"),
        {**contract("ETHUSDT", "PERPETUAL"), "baseAsset": "ETH"},
    ],
}


def test_futures_keeps_only_trading_perpetuals() -> None:
    assert parse_futures_exchange_info(FUTURES_INFO) == [
        SymbolInfo("BTCUSDT", "BTC", "USDT", "TRADING", "0.10", "0.001"),
        SymbolInfo("ETHUSDT", "ETH", "USDT", "TRADING", "0.10", "0.001"),
    ]


def test_spot_parser_keeps_every_listing_whatever_its_kind() -> None:
    symbols = [info.symbol for info in parse_exchange_info(FUTURES_INFO)]
    assert len(symbols) == len(FUTURES_INFO["symbols"])


def test_futures_perpetual_without_filters_is_left_out() -> None:
    broken = {**contract("XUSDT", "PERPETUAL"), "filters": []}
    payload = {**FUTURES_INFO, "symbols": [broken, contract("BTCUSDT", "PERPETUAL")]}
    assert [s.symbol for s in parse_futures_exchange_info(payload)] == ["BTCUSDT"]


@pytest.mark.parametrize("payload", [None, [], {"symbols": None}, {"symbols": ["BTCUSDT"]}])
def test_futures_info_without_a_symbol_list_raises(payload: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_futures_exchange_info(payload)
