"""Binance USD-M futures JSON shapes, and the liquidation-history service's, from tape integers.

Futures writes numbers at the symbol's own precision (``"43000.01"``, not spot's
``"43000.01000000"``) and differs from spot in a few fields. Real payloads, for reference::

    {"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,
     "pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}
    {"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100",
     "f":100,"l":105,"T":123456785,"m":true}
    {"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT",
     "f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014",
     "T":1568014460893}}

The simulated perpetuals mirror the spot tape: the same prices, trades and ids, with
``tickSize``/``stepSize`` (and so ``pricePrecision``/``quantityPrecision``) equal to the
spot symbol's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from marketcast.exchanges.sim.truth.bars import Trade
from marketcast.exchanges.sim.truth.book import BookDiff, BookState
from marketcast.exchanges.sim.truth.liquidations import SimLiquidation
from marketcast.exchanges.sim.truth.symbols import SymbolSpec
from marketcast.exchanges.sim.truth.tape import Tape
from marketcast.exchanges.sim.wire.market import MarketFormatter
from marketcast.exchanges.sim.wire.spot import Json, precise_text
from marketcast.exchanges.sim.wire.ticker import ticker_24hr

_ORDER_TYPES: Final = (
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
)
_TIME_IN_FORCE: Final = ("GTC", "IOC", "FOK", "GTX", "GTD")
_SPOT_ONLY_TICKER_FIELDS: Final = ("prevClosePrice", "bidPrice", "bidQty", "askPrice", "askQty")
_PERPETUAL_DELIVERY_MS: Final = 4_133_404_800_000  # 2100-12-25: Binance's "never" for perpetuals


class FuturesFormatter(MarketFormatter):
    """One USD-M symbol's trades, book and liquidations as REST rows and stream payloads."""

    def __init__(self, spec: SymbolSpec) -> None:
        super().__init__(spec, precise_text)
        self._spec = spec

    def trade_row(self, trade: Trade) -> Json:
        """One ``/fapi/v1/trades`` entry (futures has no ``isBestMatch``)."""
        row = super().trade_row(trade)
        del row["isBestMatch"]
        return row

    def agg_row(self, trade: Trade) -> Json:
        """One ``/fapi/v1/aggTrades`` entry (futures has no ``M``)."""
        row = super().agg_row(trade)
        del row["M"]
        return row

    def depth_snapshot_at(self, book: BookState, limit: int, now_ms: int) -> Json:
        """``GET /fapi/v1/depth``: ``E`` is the message time, ``T`` the book's."""
        snapshot = self.depth_snapshot(book, limit)
        return {"lastUpdateId": book.update_id, "E": now_ms, "T": book.time} | snapshot

    def depth_event(self, diff: BookDiff, event_time: int, previous_final: int) -> Json:
        """``<symbol>@depth[@100ms|@500ms]``: ``pu`` is the ``u`` of the stream's previous
        event, which is how a futures client sees a gap."""
        event = super().depth_event(diff, event_time, previous_final)
        return {
            "e": event["e"],
            "E": event_time,
            "T": diff.time,
            "s": event["s"],
            "U": diff.first_id,
            "u": diff.last_id,
            "pu": previous_final,
            "b": event["b"],
            "a": event["a"],
        }

    def force_order_event(self, liquidation: SimLiquidation, event_time: int) -> Json:
        """The ``<symbol>@forceOrder`` payload."""
        px, qty = self._spec.price_decimals, self._spec.qty_decimals
        quantity = precise_text(liquidation.qty, qty)
        order = {
            "s": liquidation.symbol,
            "S": liquidation.side,
            "o": "LIMIT",
            "f": "IOC",
            "q": quantity,
            "p": precise_text(liquidation.price, px),
            "ap": precise_text(liquidation.avg_price, px),
            "X": "FILLED",
            "l": quantity,
            "z": quantity,
            "T": liquidation.time,
        }
        return {"e": "forceOrder", "E": event_time, "o": order}

    def history_row(self, liquidation: SimLiquidation) -> Json:
        """One entry of ``GET /liquidation-history/{symbol}``: the same order, spelled out."""
        order = self.force_order_event(liquidation, liquidation.time)["o"]
        return {
            "symbol": order["s"],
            "side": order["S"],
            "order_type": order["o"],
            "time_in_force": order["f"],
            "original_quantity": order["q"],
            "price": order["p"],
            "average_price": order["ap"],
            "order_status": order["X"],
            "order_last_filled_quantity": order["l"],
            "order_filled_accumulated_quantity": order["z"],
            "order_trade_time": order["T"],
        }


def futures_ticker(tape: Tape, symbol: str, now_ms: int) -> Json:
    """One ``/fapi/v1/ticker/24hr`` entry."""
    ticker = ticker_24hr(tape, symbol, now_ms, precise_text)
    for name in _SPOT_ONLY_TICKER_FIELDS:
        del ticker[name]
    return ticker


def futures_exchange_info(
    tape: Tape, symbols: Iterable[str], server_time: int, weight_limit: int
) -> Json:
    """``GET /fapi/v1/exchangeInfo`` for ``symbols``, every one a USDT perpetual listed
    when the tape lists it."""
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            _rate_limit("REQUEST_WEIGHT", "MINUTE", 1, weight_limit),
            _rate_limit("ORDERS", "MINUTE", 1, 1200),
            _rate_limit("ORDERS", "SECOND", 10, 300),
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [_perpetual(tape.spec(s), tape.listing_ms(s)) for s in symbols],
    }


def _perpetual(spec: SymbolSpec, listing_ms: int) -> Json:
    tick = precise_text(1, spec.price_decimals)
    step = precise_text(1, spec.qty_decimals)
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": _PERPETUAL_DELIVERY_MS,
        "onboardDate": listing_ms,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_decimals,
        "quantityPrecision": spec.qty_decimals,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000",
             "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "10000000", "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": "1000000",
             "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
        ],
        "orderTypes": list(_ORDER_TYPES),
        "timeInForce": list(_TIME_IN_FORCE),
    }  # fmt: skip


def _rate_limit(kind: str, interval: str, count: int, limit: int) -> Json:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": count, "limit": limit}
