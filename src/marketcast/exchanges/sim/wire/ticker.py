"""``/api/v3/ticker/24hr`` and ``/fapi/v1/ticker/24hr``: rolling 24-hour statistics, read
straight from the tape.

The window's OHLCV, trade ids and count are exact merges of tape nodes. The quote volume
(and so the weighted average price) is the window's volume times its typical price, the
same estimate klines use; the book fields are one tick either side of the last price.
"""

from __future__ import annotations

from marketcast.domain.intervals import DAY_MS, SECOND_MS
from marketcast.exchanges.sim.truth.bars import Bar
from marketcast.exchanges.sim.truth.hashing import key_hash, unit
from marketcast.exchanges.sim.truth.tape import Tape
from marketcast.exchanges.sim.wire.spot import PLACES, Json, NumberText, decimal_text


def ticker_24hr(tape: Tape, symbol: str, now_ms: int, number: NumberText = decimal_text) -> Json:
    """The 24-hour rolling ticker of ``symbol`` as of ``now_ms`` (numbers as ``number``
    writes them; USD-M futures drops the book and previous-close fields, see
    :mod:`.futures`)."""
    spec = tape.spec(symbol)
    start = max(-(-(now_ms - DAY_MS) // SECOND_MS) * SECOND_MS, tape.listing_ms(symbol))
    window = tape.span(symbol, start, now_ms + 1, now_ms) if start <= now_ms else None
    if window is None:
        window = Bar(start, 0, 0, 0, 0, 0, 0, 0)
    px, qty = spec.price_decimals, spec.qty_decimals
    typical4 = window.open + window.high + window.low + window.close
    quote_e8 = window.volume * typical4 * 10**PLACES // (4 * spec.tick_scale * spec.lot_scale)
    change = window.close - window.open
    percent = 100.0 * change / window.open if window.open else 0.0
    last_qty = _last_qty(tape, symbol, now_ms) if window.trades else 0
    book_qty = 1 + int(unit(key_hash(tape.seed, symbol, "book", now_ms // SECOND_MS)) * 5000)
    return {
        "symbol": symbol,
        "priceChange": number(change, px),
        "priceChangePercent": f"{percent:.3f}",
        "weightedAvgPrice": number(typical4 // 4, px),
        "prevClosePrice": number(window.open, px),
        "lastPrice": number(window.close, px),
        "lastQty": number(last_qty, qty),
        "bidPrice": number(max(0, window.close - 1), px),
        "bidQty": number(book_qty, qty),
        "askPrice": number(window.close + 1 if window.trades else 0, px),
        "askQty": number(book_qty // 2 + 1, qty),
        "openPrice": number(window.open, px),
        "highPrice": number(window.high, px),
        "lowPrice": number(window.low, px),
        "volume": number(window.volume, qty),
        "quoteVolume": number(quote_e8, PLACES),
        "openTime": start,
        "closeTime": now_ms,
        "firstId": window.first_id if window.trades else -1,
        "lastId": window.last_id if window.trades else -1,
        "count": window.trades,
    }


def _last_qty(tape: Tape, symbol: str, now_ms: int) -> int:
    second = now_ms - now_ms % SECOND_MS
    done = [t for t in tape.trades(symbol, second) if t.time <= now_ms]
    return done[-1].qty
