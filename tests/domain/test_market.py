"""Symbol metadata: a listing plus its ticker becomes OrderFox's camelCase object."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketcast.domain.market import SymbolMeta, Ticker24h, build_symbol_meta
from marketcast.exchanges.binance.messages import SymbolInfo
from support.contracts import SYMBOL_FIELDS

BTC = SymbolInfo("BTCUSDT", "BTC", "USDT", "TRADING", "0.01000000", "0.00001000")
DOGE = SymbolInfo("DOGEUSDT", "DOGE", "USDT", "TRADING", "0.00001000", "1.00000000")


def ticker(symbol: str, last: str, quote_volume: str, change: str = "1.234") -> Ticker24h:
    return Ticker24h(
        symbol, Decimal(last), Decimal(change), Decimal("1000"), Decimal(quote_volume), 0
    )


def test_btcusdt_object_has_every_symbol_field_worked_by_hand() -> None:
    meta = build_symbol_meta(BTC, ticker("BTCUSDT", "67012.34000000", "1259000000.5"))
    body = meta.to_camel_json()
    assert set(body) >= SYMBOL_FIELDS
    assert body == {
        "id": "BTCUSDT",
        "symbol": "BTCUSDT",
        "baseAsset": "BTC",
        "quoteAsset": "USDT",
        "uiName": "BTC/USDT",
        "volume24h": 1259000000.5,
        "volume24hFormatted": "1.26B",
        "pricePrecision": 2,
        "amountPrecision": 5,
        "priceFormat": {"type": "price", "precision": 2, "minMove": 0.01},
        "roundingOptions": [0.01, 0.1, 1.0, 10.0, 100.0],
        "defaultRounding": 1.0,
        "tickSize": "0.01",
        "stepSize": "0.00001",
        "lastPrice": 67012.34,
        "lastPriceFormatted": "67012.34",
        "priceChangePercent24h": 1.234,
        "priceChangePercent24hFormatted": "+1.23%",
    }


def test_dogeusdt_amount_precision_zero_and_fine_rounding() -> None:
    body = build_symbol_meta(
        DOGE, ticker("DOGEUSDT", "0.15000", "456780000", "-2.5")
    ).to_camel_json()
    assert body["pricePrecision"] == 5
    assert body["amountPrecision"] == 0
    assert body["stepSize"] == "1"
    assert body["volume24hFormatted"] == "456.78M"
    assert body["roundingOptions"] == [0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001]
    assert body["defaultRounding"] == 0.00001
    assert body["priceChangePercent24hFormatted"] == "-2.50%"


def test_listing_without_a_ticker_shows_zero_volume_and_only_the_tick() -> None:
    meta = build_symbol_meta(BTC, None)
    body = meta.to_camel_json()
    assert (body["volume24h"], body["volume24hFormatted"]) == (0.0, "0.00")
    assert body["roundingOptions"] == [0.01]
    assert body["defaultRounding"] == 0.01
    assert body["lastPrice"] is None
    assert body["priceChangePercent24hFormatted"] is None


def test_meta_is_frozen() -> None:
    meta = build_symbol_meta(BTC, None)
    assert isinstance(meta, SymbolMeta)
    with pytest.raises(AttributeError):
        meta.symbol = "ETHUSDT"  # type: ignore[misc]


@pytest.mark.parametrize(("tick", "step"), [("0", "1"), ("abc", "1"), ("0.01", "-1")])
def test_unusable_filters_are_a_value_error(tick: str, step: str) -> None:
    with pytest.raises(ValueError, match="BADUSDT"):
        build_symbol_meta(SymbolInfo("BADUSDT", "BAD", "USDT", "TRADING", tick, step), None)
