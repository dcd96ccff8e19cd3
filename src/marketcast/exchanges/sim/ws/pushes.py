"""What trade, depth and liquidation streams push on one connection, tick by tick.

Trade streams send every trade whose time the virtual clock has passed since the last
tick, in id order; after a clock jump or a long stall only the last
:data:`MAX_TRADE_CATCHUP_MS` of trades are sent (older ones are lost, as on a real
reconnect, and REST still has them). Depth streams send one diff per tick at most,
covering every change batch up to the latest ``cadence_ms`` boundary, so a 100 ms stream
at speed 1 sends one event per batch and at speed 60 one event per tick. Futures depth
events carry ``pu``: the last update id this stream covered before, sent or not, so a
diff left out by a ``depth_gap`` fault shows as ``pu`` not matching the client's last
``u``. ``@forceOrder`` (futures) sends each liquidation of the truth once its fill time
has passed, with the same catch-up limit as trades.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from marketcast.exchanges.sim.faults.connection import ConnectionFaults
from marketcast.exchanges.sim.truth.bars import Trade
from marketcast.exchanges.sim.truth.book import BookModel
from marketcast.exchanges.sim.truth.liquidations import LiquidationModel
from marketcast.exchanges.sim.truth.tape import Tape
from marketcast.exchanges.sim.truth.tradelog import trades_in
from marketcast.exchanges.sim.wire.futures import FuturesFormatter
from marketcast.exchanges.sim.wire.market import MarketFormatter
from marketcast.exchanges.sim.wire.spot import Json
from marketcast.exchanges.sim.wire.streams import DepthStream, ForceOrderStream, Stream, TradeStream

MAX_TRADE_CATCHUP_MS: Final = 60_000


class MarketFeed:
    """Cursors of one connection's trade, depth and liquidation streams.

    Args:
        tape: the trades.
        books: book models by symbol.
        formatters: payload builders by symbol (spot or futures).
        liquidations: the liquidation truth and its payload builders by symbol, on a
            futures connection (``None`` on spot, which has no ``@forceOrder``).
    """

    def __init__(
        self,
        tape: Tape,
        books: Mapping[str, BookModel],
        formatters: Mapping[str, MarketFormatter],
        liquidations: tuple[LiquidationModel, Mapping[str, FuturesFormatter]] | None = None,
    ) -> None:
        self._tape = tape
        self._books = books
        self._formatters = formatters
        self._liquidations = liquidations
        self._trade_after: dict[TradeStream, int] = {}
        self._depth_sent: dict[DepthStream, int] = {}
        self._force_after: dict[ForceOrderStream, int] = {}

    def follow(self, streams: Iterable[Stream], now_ms: int) -> None:
        """Track exactly ``streams``; new ones start at ``now_ms``, kept ones keep going."""
        trades: dict[TradeStream, int] = {}
        depths: dict[DepthStream, int] = {}
        forces: dict[ForceOrderStream, int] = {}
        for stream in streams:
            if isinstance(stream, TradeStream):
                trades[stream] = self._trade_after.get(stream, now_ms)
            elif isinstance(stream, DepthStream):
                start = self._books[stream.symbol].update_id(now_ms)
                depths[stream] = self._depth_sent.get(stream, start)
            elif isinstance(stream, ForceOrderStream) and self._liquidations is not None:
                forces[stream] = self._force_after.get(stream, now_ms)
        self._trade_after, self._depth_sent, self._force_after = trades, depths, forces

    def due(self, now_ms: int, faults: ConnectionFaults) -> Iterator[tuple[Stream, Json]]:
        """Payloads due at ``now_ms``, advancing the cursors; armed gaps are consumed."""
        yield from self._trades_due(now_ms, faults)
        yield from self._depth_due(now_ms, faults)
        yield from self._force_orders_due(now_ms)

    def _trades_due(self, now_ms: int, faults: ConnectionFaults) -> Iterator[tuple[Stream, Json]]:
        fetched: dict[tuple[str, int], list[Trade]] = {}
        for stream, sent_until in list(self._trade_after.items()):
            key = (stream.symbol, max(sent_until, now_ms - MAX_TRADE_CATCHUP_MS))
            if key not in fetched:
                fetched[key] = trades_in(self._tape, stream.symbol, key[1], now_ms)
            self._trade_after[stream] = now_ms
            formatter = self._formatters[stream.symbol]
            for trade in fetched[key]:
                if faults.take_trade_gap():
                    continue
                if stream.aggregate:
                    yield stream, formatter.agg_event(trade, now_ms)
                else:
                    yield stream, formatter.trade_event(trade, now_ms)

    def _depth_due(self, now_ms: int, faults: ConnectionFaults) -> Iterator[tuple[Stream, Json]]:
        for stream, sent in list(self._depth_sent.items()):
            book = self._books[stream.symbol]
            target = book.update_id(now_ms - now_ms % stream.cadence_ms)
            if target <= sent:
                continue
            diff = book.diff(sent, target)
            if diff.empty:
                continue  # nothing to say yet: the next event starts at sent + 1
            self._depth_sent[stream] = target
            if not faults.take_depth_gap():
                formatter = self._formatters[stream.symbol]
                yield stream, formatter.depth_event(diff, now_ms, previous_final=sent)

    def _force_orders_due(self, now_ms: int) -> Iterator[tuple[Stream, Json]]:
        if self._liquidations is None:
            return
        model, formatters = self._liquidations
        for stream, sent_until in list(self._force_after.items()):
            start = max(sent_until + 1, now_ms - MAX_TRADE_CATCHUP_MS)
            self._force_after[stream] = now_ms
            for liquidation in model.between(stream.symbol, start, now_ms):
                yield stream, formatters[stream.symbol].force_order_event(liquidation, now_ms)
