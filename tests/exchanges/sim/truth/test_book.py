"""The simulated book carries some orders between ticks, as real books do."""

from __future__ import annotations

from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.truth.book import BOOK_LEVELS, OFF_TICK_ONE_IN, PRICE_SCALE
from marketcast.exchanges.sim.wire.market import MarketFormatter


def test_some_levels_rest_between_ticks_and_every_side_stays_ordered() -> None:
    sim = SimExchange(SimConfig())
    for symbol in ("BTCUSDT", "XRPUSDT", "DOGEUSDT"):
        tape = sim.truth.tape
        book = sim.truth.book(symbol, tape.listing_ms(symbol) + 86_400_000)
        prices = [price for price, _ in book.bids + book.asks]
        off_tick = [price for price in prices if price % PRICE_SCALE]
        # About one level in OFF_TICK_ONE_IN; never none, never most.
        assert 0 < len(off_tick) < 4 * len(prices) // OFF_TICK_ONE_IN, symbol
        bids, asks = [p for p, _ in book.bids], [p for p, _ in book.asks]
        assert bids == sorted(bids, reverse=True)
        assert asks == sorted(asks)
        assert len(bids) == len(asks) == BOOK_LEVELS
        assert bids[0] < asks[0]


def test_the_wire_shows_an_off_tick_price_with_one_more_decimal() -> None:
    sim = SimExchange(SimConfig())
    spec = sim.truth.tape.spec("BTCUSDT")
    book = sim.truth.book("BTCUSDT", sim.truth.tape.listing_ms("BTCUSDT") + 86_400_000)
    shown = MarketFormatter(spec).depth_snapshot(book, BOOK_LEVELS)["bids"]
    for (price, _), (text, _) in zip(book.bids, shown, strict=True):
        whole, fraction = text.split(".")
        assert int(whole + fraction) == price * 10 ** (8 - spec.price_decimals - 1)
        decimals = len(fraction.rstrip("0"))
        assert decimals <= spec.price_decimals + (1 if price % PRICE_SCALE else 0)
