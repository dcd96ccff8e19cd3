"""Wire shapes of the native ``/ws`` channels and their REST bodies (pure).

A stored candle change goes out as ``{"type": "candle", "channel": "candles", "symbol",
"interval", "candle": {time, open, high, low, close, volume, closed}, "event_time"}``
(``event_time``: the exchange's push time in ms, ``null`` for candles filled from REST).

Numbers are JSON numbers, and every price or amount also comes as the ready-to-show
string the domain formats (``*_formatted``, ``quantityFormatted``...), so a thin client
never rounds anything.

Each channel answers a subscribe with one ``snapshot`` and then sends its own update type;
the REST routes return the snapshot's body without ``type`` and ``channel``::

    {"type": "snapshot", "channel": "orderbook", "symbol", "limit", "rounding",
     "rounding_options", "price_precision", "amount_precision", "bids", "asks", "depth",
     "update_id", "timestamp", "version"}
    {"type": "orderbook", "channel": "orderbook", ...the same, without rounding_options}

    {"type": "snapshot", "channel": "trades", "symbol", "reset", "trades": [...]}
    {"type": "trades", "channel": "trades", "symbol", "trades": [...]}

    {"type": "snapshot", "channel": "liquidations", "symbol", "market": "usdm",
     "sample": true, "note", "liquidations": [...newest first], "timeframe"?,
     "volume"?: [...buckets]}
    {"type": "liquidation", "channel": "liquidations", "symbol", "market": "usdm",
     "liquidation": {...}, "timeframe"?, "bucket"?: {...} | null}

Book levels are ``{price, amount, cumulative, price_formatted, amount_formatted,
cumulative_formatted}``, best first on both sides (bids high to low, asks low to high).
Trades are ``{id, price, amount, side, timestamp, price_formatted, amount_formatted,
time_formatted}`` in ascending id. A liquidation is OrderFox's ``liquidation_order``
object; a bucket OrderFox's ``liquidation_volume`` entry.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from marketcast.api.feeds.shapes import candle_native, level_json, optional_number
from marketcast.api.transport.messages import Json, dumps
from marketcast.domain.book_view import BookView, DepthInfo
from marketcast.domain.liquidations import Bucket, Liquidation, liquidation_payload
from marketcast.domain.market import SymbolMeta
from marketcast.domain.trades import Trade, trade_payload
from marketcast.hub.candles.bus import Encoder, Published

SAMPLE_NOTE: Final = (
    "Binance's @forceOrder stream sends at most one liquidation per symbol per second: "
    "this is a sample, and counts and volumes are lower bounds, never totals."
)


def encode_native(event: Published, market: str = "spot") -> str:
    """A bus encoder (run once per published candle, the text shared by every client)."""
    return dumps(
        {
            "type": "candle",
            "channel": "candles",
            "market": market,
            "symbol": event.topic.symbol,
            "interval": event.topic.interval.code,
            "candle": candle_native(event.candle),
            "event_time": event.event_ms,
        }
    )


def depth_json(depth: DepthInfo) -> Json:
    """OrderFox's ``market_depth_info`` fields plus volumes and the raw book's spread."""
    return {
        "requested_levels": depth.requested_levels,
        "actual_levels": depth.actual_levels,
        "is_market_depth_limited": depth.is_market_depth_limited,
        "raw_bids_count": depth.raw_bids_count,
        "raw_asks_count": depth.raw_asks_count,
        "has_insufficient_raw_data": depth.has_insufficient_raw_data,
        "total_bid_volume": float(depth.total_bid_volume),
        "total_ask_volume": float(depth.total_ask_volume),
        "best_bid": optional_number(depth.best_bid),
        "best_ask": optional_number(depth.best_ask),
        "spread": optional_number(depth.spread),
        "mid_price": optional_number(depth.mid_price),
    }


@functools.cache
def native_encoder(market: str) -> Encoder:
    """The candle encoder of ``market``: one object per market, since a bus caches each
    event's text by encoder."""
    return functools.partial(encode_native, market=market)


def book_body(symbol: str, view: BookView, market: str = "spot") -> Json:
    """One aggregated view; ``timestamp`` is the exchange's event time (ms) of the last
    change, ``update_id`` the exchange's book sequence number, ``version`` the local one."""
    return {
        "symbol": symbol,
        "market": market,
        "limit": view.limit,
        "rounding": float(view.rounding),
        "price_precision": view.price_precision,
        "amount_precision": view.amount_precision,
        "bids": [level_json(level) for level in view.bids],
        "asks": [level_json(level) for level in view.asks],
        "depth": depth_json(view.depth),
        "update_id": view.last_update,
        "timestamp": view.event_time,
        "version": view.version,
    }


def book_snapshot(
    symbol: str, view: BookView, options: Sequence[Decimal], market: str = "spot"
) -> Json:
    return (
        {"type": "snapshot", "channel": "orderbook"}
        | book_body(symbol, view, market)
        | {"rounding_options": [float(option) for option in options]}
    )


def encode_book_update(symbol: str, view: BookView, market: str = "spot") -> str:
    return dumps({"type": "orderbook", "channel": "orderbook"} | book_body(symbol, view, market))


def trades_json(trades: Sequence[Trade], meta: SymbolMeta) -> list[Json]:
    precision, amount_precision = meta.price_precision, meta.amount_precision
    return [trade_payload(trade, precision, amount_precision) for trade in trades]


def trades_snapshot(
    symbol: str, trades: Sequence[Trade], meta: SymbolMeta, reset: bool, market: str = "spot"
) -> Json:
    body = {
        "symbol": symbol,
        "market": market,
        "reset": reset,
        "trades": trades_json(trades, meta),
    }
    return {"type": "snapshot", "channel": "trades"} | body


def encode_trades_update(
    symbol: str, trades: Sequence[Trade], meta: SymbolMeta, market: str = "spot"
) -> str:
    body = {"symbol": symbol, "market": market, "trades": trades_json(trades, meta)}
    return dumps({"type": "trades", "channel": "trades"} | body)


def liquidation_json(symbol: str, liquidation: Liquidation, meta: SymbolMeta) -> Json:
    return liquidation_payload(liquidation, meta.base_asset, meta.amount_precision, symbol=symbol)


def liquidations_body(
    symbol: str,
    liquidations: Sequence[Liquidation],
    meta: SymbolMeta,
    volume: tuple[str, Sequence[Bucket]] | None,
    market: str,
) -> Json:
    """``volume`` is ``(timeframe code, buckets oldest first)`` when asked for; ``market``
    is always USD-M's name (the only market with liquidations), passed by the caller."""
    body: Json = {
        "symbol": symbol,
        "market": market,
        "sample": True,
        "note": SAMPLE_NOTE,
        "liquidations": [liquidation_json(symbol, item, meta) for item in liquidations],
    }
    if volume is not None:
        timeframe, buckets = volume
        body |= {"timeframe": timeframe, "volume": [bucket.to_json() for bucket in buckets]}
    return body


def encode_liquidation_update(
    symbol: str,
    liquidation: Liquidation,
    meta: SymbolMeta,
    bucket: tuple[str, Bucket | None] | None,
    market: str,
) -> str:
    """``bucket`` is ``(timeframe code, the bucket now holding it)`` when asked for."""
    body: Json = {
        "type": "liquidation",
        "channel": "liquidations",
        "symbol": symbol,
        "market": market,
        "liquidation": liquidation_json(symbol, liquidation, meta),
    }
    if bucket is not None:
        timeframe, current = bucket
        body |= {"timeframe": timeframe, "bucket": None if current is None else current.to_json()}
    return dumps(body)
