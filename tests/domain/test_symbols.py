"""ccxt's unified symbols name their market; exchange ids name none."""

from __future__ import annotations

import pytest

from marketcast.domain.symbols import normalize_symbol, unified_symbol


@pytest.mark.parametrize(
    ("given", "pair", "market"),
    [
        ("BTCUSDT", "BTCUSDT", None),
        ("btc-usdt", "btc-usdt", None),
        ("BTC/USDT", "BTC/USDT", "spot"),
        ("BTC/USDT:USDT", "BTC/USDT", "usdm"),
        ("eth/usdt:usdt", "eth/usdt", "usdm"),
    ],
)
def test_unified_symbols_name_their_market(given: str, pair: str, market: str | None) -> None:
    assert unified_symbol(given) == (pair, market)
    assert normalize_symbol(unified_symbol(given)[0]) == normalize_symbol(pair)


def test_coin_margined_contracts_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="settled in their quote"):
        unified_symbol("BTC/USD:BTC")
