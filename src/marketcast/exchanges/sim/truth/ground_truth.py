"""What the simulated exchange says happened: klines of any interval, with its outages.

:class:`GroundTruth` is the referee the tests compare against and the single source the
REST and WebSocket shells read. A kline exists when its symbol was listed before it
closed, it opened at or before ``now``, and it does not lie entirely inside a downtime
window. A kline that only partly overlaps a downtime keeps its tape values: a deliberate
simplification (a real exchange would have fewer trades in it), documented here because
it means downtime removes whole candles and never alters the ones that remain.

``quote_volume`` and the taker-buy volumes are estimated per kline from its own OHLC
(volume times the typical price; a buy share that leans with the candle's direction), so
unlike volume and trade counts they are not sums across levels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim.truth.bars import Bar, Trade
from marketcast.exchanges.sim.truth.book import BookModel, BookState
from marketcast.exchanges.sim.truth.liquidations import LiquidationModel, SimLiquidation
from marketcast.exchanges.sim.truth.tape import Tape
from marketcast.exchanges.sim.truth.tradelog import trades_from_id, trades_since

_E8 = 10**8


@dataclass(frozen=True, slots=True)
class Downtime:
    """The exchange is down for virtual times ``start_ms <= t < end_ms``."""

    start_ms: int
    end_ms: int

    def contains(self, t_ms: int) -> bool:
        return self.start_ms <= t_ms < self.end_ms

    def swallows(self, open_ms: int, next_open_ms: int) -> bool:
        """Whether a candle spanning ``[open_ms, next_open_ms)`` lies entirely inside."""
        return self.start_ms <= open_ms and next_open_ms <= self.end_ms


@dataclass(frozen=True, slots=True)
class Kline:
    """One kline in exchange units: prices in ticks, volumes in lots, quotes in 1e-8."""

    symbol: str
    interval: Interval
    open_time: int
    close_time: int
    bar: Bar
    closed: bool
    quote_volume_e8: int
    taker_buy_volume: int
    taker_buy_quote_e8: int

    @property
    def last_trade_id(self) -> int:
        return self.bar.last_id


class GroundTruth:
    """Klines, trades, books and liquidations of ``tape`` as the exchange serves them,
    given its ``downtimes`` (``books`` and ``liquidations`` share models, and their memos,
    between readers). Each market has its own tape (USD-M's is spot's twin at a small
    basis), so each has its own truth; downtimes hit both."""

    def __init__(
        self,
        tape: Tape,
        downtimes: tuple[Downtime, ...] = (),
        books: Mapping[str, BookModel] | None = None,
        liquidations: LiquidationModel | None = None,
    ) -> None:
        self.tape = tape
        self.downtimes = downtimes
        self.books = books if books is not None else book_models(tape)
        self.liquidation_model = liquidations or LiquidationModel(tape)

    def liquidations(self, symbol: str, start_ms: int, end_ms: int) -> list[SimLiquidation]:
        """Every forced order of ``symbol`` filled in ``[start_ms, end_ms]``, oldest first.

        Downtimes do not remove them (as they do not remove trades): only whole candles.
        """
        return self.liquidation_model.between(symbol, start_ms, end_ms)

    def trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int,
    ) -> list[Trade]:
        """Every trade from id ``from_id`` (or time ``start_ms``) to time ``end_ms``."""
        if from_id is not None:
            return trades_from_id(self.tape, symbol, from_id, end_ms, None)
        start = self.tape.listing_ms(symbol) if start_ms is None else start_ms
        return trades_since(self.tape, symbol, start, end_ms, None)

    def book(self, symbol: str, now_ms: int) -> BookState:
        """The order book as of ``now_ms``."""
        return self.books[symbol].at(now_ms)

    def book_at(self, symbol: str, update_id: int) -> BookState:
        """The order book right after update ``update_id``."""
        return self.books[symbol].by_id(update_id)

    def kline(self, symbol: str, interval: Interval, open_ms: int, now_ms: int) -> Kline | None:
        """The kline opening at ``open_ms`` (aligned) as of ``now_ms``, or ``None``."""
        next_open = interval.next_open(open_ms)
        listing = self.tape.listing_ms(symbol)
        if open_ms > now_ms or next_open <= listing:
            return None
        if any(d.swallows(open_ms, next_open) for d in self.downtimes):
            return None
        bar = self.tape.span(symbol, max(open_ms, listing), next_open, now_ms)
        if bar is None:
            return None
        return self._build(symbol, interval, (open_ms, next_open), bar, now_ms)

    def page(
        self,
        symbol: str,
        interval: Interval,
        now_ms: int,
        limit: int,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Kline]:
        """Binance's ``/klines`` selection: the oldest from ``start_ms`` if given, else the
        newest up to ``end_ms`` (or now); open times always within ``[start, end]``."""
        last_open = interval.floor(min(now_ms, end_ms if end_ms is not None else now_ms))
        if start_ms is not None:
            found = self._forward(symbol, interval, (start_ms, last_open), now_ms, limit)
        else:
            found = self._backward(symbol, interval, last_open, now_ms, limit)
            found.reverse()
        return found

    def klines(
        self, symbol: str, interval: Interval, first_open_ms: int, last_open_ms: int, now_ms: int
    ) -> list[Candle]:
        """Every existing candle opening in ``[first_open_ms, last_open_ms]`` as of now."""
        last = interval.floor(min(last_open_ms, now_ms))
        found = self._forward(symbol, interval, (first_open_ms, last), now_ms, None)
        return [self.to_candle(k) for k in found]

    def candle(self, symbol: str, interval: Interval, open_ms: int, now_ms: int) -> Candle | None:
        """The candle opening at ``open_ms`` as of ``now_ms``; ``None`` if it does not exist."""
        found = self.kline(symbol, interval, interval.floor(open_ms), now_ms)
        return None if found is None or found.open_time != open_ms else self.to_candle(found)

    def to_candle(self, kline: Kline) -> Candle:
        """The domain candle a client parsing the wire decimals would build."""
        spec = self.tape.spec(kline.symbol)
        tick, lot = spec.tick_scale, spec.lot_scale
        bar = kline.bar
        return Candle(
            open_time=kline.open_time,
            open=bar.open / tick,
            high=bar.high / tick,
            low=bar.low / tick,
            close=bar.close / tick,
            volume=bar.volume / lot,
            quote_volume=kline.quote_volume_e8 / _E8,
            trades=bar.trades,
            closed=kline.closed,
        )

    def _forward(
        self,
        symbol: str,
        interval: Interval,
        bounds: tuple[int, int],
        now: int,
        limit: int | None,
    ) -> list[Kline]:
        first, last = bounds
        t = interval.floor(max(first, self.tape.listing_ms(symbol)))
        if t < first:
            t = interval.next_open(t)
        found: list[Kline] = []
        while t <= last and (limit is None or len(found) < limit):
            kline = self.kline(symbol, interval, t, now)
            if kline is not None:
                found.append(kline)
            t = interval.next_open(t)
        return found

    def _backward(
        self, symbol: str, interval: Interval, last: int, now: int, limit: int
    ) -> list[Kline]:
        listing = self.tape.listing_ms(symbol)
        found: list[Kline] = []
        for t in _descending(interval, last):
            if len(found) >= limit or interval.next_open(t) <= listing:
                break
            kline = self.kline(symbol, interval, t, now)
            if kline is not None:
                found.append(kline)
        return found

    def _build(
        self, symbol: str, interval: Interval, span: tuple[int, int], bar: Bar, now_ms: int
    ) -> Kline:
        open_ms, next_open = span
        spec = self.tape.spec(symbol)
        # One unit of lots * ticks is 1 / (tick_scale * lot_scale) of the quote currency.
        divisor = 4 * spec.tick_scale * spec.lot_scale
        typical4 = bar.open + bar.high + bar.low + bar.close
        taker = _taker_buy_lots(bar)
        return Kline(
            symbol=symbol,
            interval=interval,
            open_time=open_ms,
            close_time=next_open - 1,
            bar=bar,
            closed=next_open <= now_ms,
            quote_volume_e8=bar.volume * typical4 * _E8 // divisor,
            taker_buy_volume=taker,
            taker_buy_quote_e8=taker * typical4 * _E8 // divisor,
        )


def book_models(tape: Tape) -> dict[str, BookModel]:
    """One book model per listed symbol of ``tape``."""
    return {symbol: BookModel(tape, symbol) for symbol in tape.symbols}


def _taker_buy_lots(bar: Bar) -> int:
    """Takers buy between 10% and 90% of the volume, more when the candle rose."""
    range_ = bar.high - bar.low
    if range_ == 0:
        return bar.volume // 2
    return bar.volume * (5 * range_ + 4 * (bar.close - bar.open)) // (10 * range_)


def _descending(interval: Interval, last: int) -> Iterator[int]:
    t = last
    while True:
        yield t
        t = interval.prev_open(t)
