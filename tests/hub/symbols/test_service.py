"""The symbol service: TTL, one refresh at a time, stale-while-error, lookups; and the
24 h ticker parser that feeds it (Binance's documented payload)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from marketcast.domain.market import Ticker24h
from marketcast.errors import ExchangeProtocolError, ExchangeUnavailable, NotReady, UnknownSymbol
from marketcast.exchanges.binance.messages import SymbolInfo
from marketcast.exchanges.binance.tickers import parse_tickers_24h
from marketcast.hub.symbols.service import SymbolService
from support.fakes import FakeClock

pytestmark = pytest.mark.timeout(10)

CATALOG = {
    "BTCUSDT": SymbolInfo("BTCUSDT", "BTC", "USDT", "TRADING", "0.01000000", "0.00001000"),
    "ETHUSDT": SymbolInfo("ETHUSDT", "ETH", "USDT", "TRADING", "0.01000000", "0.00010000"),
    "DOGEUSDT": SymbolInfo("DOGEUSDT", "DOGE", "USDT", "TRADING", "0.00001000", "1.00000000"),
    "XRPUSDT": SymbolInfo("XRPUSDT", "XRP", "USDT", "TRADING", "0.00010000", "0.10000000"),
    "ETHBTC": SymbolInfo("ETHBTC", "ETH", "BTC", "TRADING", "0.00001000", "0.00010000"),
    "LUNAUSDT": SymbolInfo("LUNAUSDT", "LUNA", "USDT", "BREAK", "0.00010000", "0.01000000"),
}


class TickerFeed:
    """A fetch function the test steers: prices, failure, and a gate to hold it open."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.gate: asyncio.Event | None = None
        self.btc_price = "67000.00"

    async def __call__(self) -> list[Ticker24h]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise ExchangeUnavailable("HTTP 503 from /api/v3/ticker/24hr")
        return [
            tick("BTCUSDT", self.btc_price, "1400000000"),
            tick("ETHUSDT", "3500.00", "700000000"),
            tick("DOGEUSDT", "0.15000", "130000000"),
            tick("XRPUSDT", "0.6000", "160000000"),
            tick("ETHBTC", "0.05200", "900"),
        ]


def tick(symbol: str, last: str, quote_volume: str) -> Ticker24h:
    return Ticker24h(symbol, Decimal(last), Decimal("0.5"), Decimal(1), Decimal(quote_volume), 0)


def service(
    feed: TickerFeed, clock: FakeClock, catalog: dict[str, SymbolInfo] | None = None
) -> SymbolService:
    listed = CATALOG if catalog is None else catalog
    return SymbolService(lambda: listed, feed, clock, ttl_s=300.0, retry_s=30.0)


async def test_all_lists_trading_usdt_symbols_by_quote_volume() -> None:
    symbols = service(TickerFeed(), FakeClock())
    found = await symbols.all()
    assert [m.exchange_id for m in found] == ["BTCUSDT", "ETHUSDT", "XRPUSDT", "DOGEUSDT"]
    assert [m.volume_24h_formatted for m in found] == ["1.40B", "700.00M", "160.00M", "130.00M"]
    # LUNAUSDT is listed but not trading; ETHBTC is another quote.
    assert [m.exchange_id for m in await symbols.all(quote="BTC")] == ["ETHBTC"]
    assert len(await symbols.all(quote=None)) == 5
    xrp = found[2]
    assert xrp.rounding_options == tuple(
        Decimal(o) for o in ("0.0001", "0.0002", "0.0005", "0.001", "0.002", "0.005")
    )


async def test_tickers_are_cached_for_the_ttl_then_refreshed_lazily() -> None:
    feed, clock = TickerFeed(), FakeClock()
    symbols = service(feed, clock)
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("67000.00")
    feed.btc_price = "70000.00"
    clock.now += 299.0
    await symbols.all()
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("67000.00")
    assert feed.calls == 1
    clock.now += 1.0  # exactly the TTL: stale
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("70000.00")
    assert feed.calls == 2
    assert not symbols.stale


async def test_one_refresh_at_a_time_however_many_requests_wait() -> None:
    feed = TickerFeed()
    feed.gate = asyncio.Event()
    symbols = service(feed, FakeClock())
    lists = [asyncio.create_task(symbols.all()) for _ in range(5)]
    one = asyncio.create_task(symbols.get("ethusdt"))
    await asyncio.sleep(0.01)
    assert feed.calls == 1
    feed.gate.set()
    results = await asyncio.gather(*lists)
    assert (await one).exchange_id == "ETHUSDT"
    assert feed.calls == 1
    assert all(len(r) == 4 for r in results)


async def test_while_one_request_refreshes_the_others_get_the_previous_tickers() -> None:
    feed, clock = TickerFeed(), FakeClock()
    symbols = service(feed, clock)
    await symbols.all()
    feed.gate, feed.btc_price = asyncio.Event(), "70000.00"
    clock.now += 300.0
    refreshing = asyncio.create_task(symbols.get("BTCUSDT"))
    await asyncio.sleep(0.01)
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("67000.00")  # no waiting
    feed.gate.set()
    assert (await refreshing).last_price == Decimal("70000.00")
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("70000.00")
    assert feed.calls == 2


async def test_exchange_down_serves_the_last_tickers_marked_stale() -> None:
    feed, clock = TickerFeed(), FakeClock()
    symbols = service(feed, clock)
    before = await symbols.all()
    feed.failing = True
    clock.now += 301.0
    assert await symbols.all() == before  # stale, not an error
    assert symbols.status()["stale"] is True
    assert symbols.status()["last_error"] == "HTTP 503 from /api/v3/ticker/24hr"
    assert feed.calls == 2
    clock.now += 29.0  # within retry_s: nobody asks the exchange again
    await asyncio.gather(*(symbols.all() for _ in range(3)))
    assert feed.calls == 2
    clock.now += 1.0
    await symbols.all()
    assert feed.calls == 3
    feed.failing = False
    clock.now += 30.0
    feed.btc_price = "68000.00"
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("68000.00")
    assert symbols.status()["stale"] is False
    assert symbols.status()["last_error"] is None


async def test_no_tickers_ever_is_an_error_and_is_not_retried_per_request() -> None:
    feed, clock = TickerFeed(), FakeClock()
    feed.failing = True
    symbols = service(feed, clock)
    with pytest.raises(ExchangeUnavailable, match="503"):
        await symbols.all()
    with pytest.raises(ExchangeUnavailable, match="retry in 30s"):
        await symbols.all()
    assert feed.calls == 1
    feed.failing = False
    clock.now += 30.0
    assert len(await symbols.all()) == 4


async def test_one_symbol_is_described_from_its_listing_while_tickers_never_came() -> None:
    # Books and tapes look their symbol up here: a dead ticker endpoint must not take
    # them down with the symbol list.
    feed, clock = TickerFeed(), FakeClock()
    feed.failing = True
    symbols = service(feed, clock)
    btc = await symbols.get("BTCUSDT")
    assert (btc.price_precision, btc.amount_precision) == (2, 5)
    assert (btc.last_price, btc.volume_24h) == (None, Decimal(0))
    assert btc.default_rounding in btc.rounding_options
    with pytest.raises(ExchangeUnavailable):
        await symbols.all()  # the list is ordered by volume: nothing to order by
    feed.failing = False
    clock.now += 30.0
    assert (await symbols.get("BTCUSDT")).last_price == Decimal("67000.00")


async def test_unknown_symbol_has_suggestions_and_costs_no_fetch() -> None:
    feed = TickerFeed()
    symbols = service(feed, FakeClock())
    with pytest.raises(UnknownSymbol) as caught:
        await symbols.get("BTCUSD")
    assert caught.value.suggestions[0] == "BTCUSDT"
    assert feed.calls == 0
    meta = await symbols.get("btc/usdt")
    assert (meta.exchange_id, meta.ui_name) == ("BTCUSDT", "BTC/USDT")
    assert (await symbols.get("LUNAUSDT")).volume_24h == 0  # listed, no ticker


async def test_not_ready_until_the_catalog_is_loaded_then_follows_it() -> None:
    listed: dict[str, SymbolInfo] = {}
    feed = TickerFeed()
    symbols = SymbolService(lambda: listed, feed, FakeClock())
    with pytest.raises(NotReady):
        await symbols.all()
    assert feed.calls == 0
    listed = {"BTCUSDT": CATALOG["BTCUSDT"]}
    assert [m.exchange_id for m in await symbols.all()] == ["BTCUSDT"]
    listed = dict(CATALOG)  # the hub replaces its catalog wholesale
    assert len(await symbols.all()) == 4
    assert feed.calls == 1


async def test_one_listing_with_bad_filters_does_not_hide_the_others() -> None:
    broken = CATALOG | {"BADUSDT": SymbolInfo("BADUSDT", "BAD", "USDT", "TRADING", "0", "1")}
    symbols = service(TickerFeed(), FakeClock(), broken)
    assert len(await symbols.all()) == 4
    with pytest.raises(ExchangeProtocolError, match="BADUSDT"):
        await symbols.get("BADUSDT")


# -- the feed's parser ---------------------------------------------------------------
DOC_TICKER = {
    "symbol": "BNBBTC",
    "priceChange": "-94.99999800",
    "priceChangePercent": "-95.960",
    "weightedAvgPrice": "0.29628482",
    "prevClosePrice": "0.10002000",
    "lastPrice": "4.00000200",
    "lastQty": "200.00000000",
    "bidPrice": "4.00000000",
    "bidQty": "100.00000000",
    "askPrice": "4.00000200",
    "askQty": "100.00000000",
    "openPrice": "99.00000000",
    "highPrice": "100.00000000",
    "lowPrice": "0.10000000",
    "volume": "8913.30000000",
    "quoteVolume": "15.30000000",
    "openTime": 1499783499040,
    "closeTime": 1499869899040,
    "firstId": 28385,
    "lastId": 28460,
    "count": 76,
}


def test_ticker_parser_reads_binance_documented_payload_exactly() -> None:
    (parsed,) = parse_tickers_24h([DOC_TICKER])
    assert parsed == Ticker24h(
        "BNBBTC",
        Decimal("4.00000200"),
        Decimal("-95.960"),
        Decimal("8913.30000000"),
        Decimal("15.30000000"),
        1499869899040,
    )
    assert parse_tickers_24h(DOC_TICKER) == [parsed]  # ?symbol= answers one object


def test_ticker_parser_skips_odd_entries_and_rejects_garbage() -> None:
    odd = [DOC_TICKER | {"lastPrice": "abc"}, DOC_TICKER | {"closeTime": None}, DOC_TICKER]
    assert len(parse_tickers_24h(odd)) == 1
    with pytest.raises(ExchangeProtocolError):
        parse_tickers_24h("<html>")
    with pytest.raises(ExchangeProtocolError):
        parse_tickers_24h([1, 2])
