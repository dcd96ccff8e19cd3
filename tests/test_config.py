"""Settings: the issue-4 knobs, their seed aliases and the checks that refuse bad input."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from marketcast.config import Settings


def test_seed_names_set_liquidation_history_and_book_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIQUIDATION_API_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("MAX_ORDERBOOK_LIMIT", "100")
    settings = Settings()
    assert settings.liquidation_api_base_url == "http://127.0.0.1:9/"
    assert settings.max_orderbook_limit == 100


def test_futures_bases_keep_only_the_origin() -> None:
    settings = Settings(
        futures_rest_base="https://fapi.binance.com/fapi/v1/",
        futures_ws_base="wss://fstream.binance.com/market",
    )
    assert settings.futures_rest_base == "https://fapi.binance.com"
    assert settings.futures_ws_base == "wss://fstream.binance.com"


def test_weight_limit_defaults_to_the_markets_own() -> None:
    assert Settings().weight_limit is None
    assert Settings(weight_limit=1200).weight_limit == 1200


def test_usdm_refuses_one_second_klines() -> None:
    with pytest.raises(ValidationError, match="1s exists on spot only"):
        Settings(market="usdm", intervals="1s,1m")
    assert Settings(market="spot", intervals="1s,1m").intervals == ("1s", "1m")


def test_unknown_market_is_refused() -> None:
    with pytest.raises(ValidationError, match="market"):
        Settings(market="coinm")


def test_each_market_follows_its_own_symbols_and_usdm_has_no_seconds() -> None:
    settings = Settings(
        symbols="btc/usdt,ETHUSDT", usdm_symbols="btc-usdt", intervals="1s,1m", market="spot"
    )
    assert settings.symbols_of("spot") == ("BTCUSDT", "ETHUSDT")
    assert settings.symbols_of("usdm") == ("BTCUSDT",)
    assert [str(t) for t in settings.topics_of("usdm")] == ["BTCUSDT:1m"]
    assert settings.topics == settings.topics_of("spot")
    assert len(settings.topics) == 4


def test_usdm_as_the_default_market_follows_symbols_and_usdm_symbols_there() -> None:
    settings = Settings(symbols="BTCUSDT", usdm_symbols="ETHUSDT,BTCUSDT", market="usdm")
    assert settings.symbols_of("usdm") == ("BTCUSDT", "ETHUSDT")
    assert settings.symbols_of("spot") == ()
