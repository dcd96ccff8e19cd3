"""OrderFox's sockets under ``/api/v1`` for ``/asyncapi.json`` (prose: ``docs/orderfox.md``)."""

from __future__ import annotations

from typing import Final

from marketcast.api.feeds.row_schemas import (
    BOOK_LEVEL,
    ERROR_CODE,
    LIQUIDATION,
    TRADE,
    VOLUME_BUCKET,
)
from marketcast.api.schemas import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    PING,
    PONG,
    STRING,
    STRINGS,
    ChannelSpec,
    Schema,
    array,
    const,
    described,
    message,
    nullable,
    numbers,
    obj,
)

HOST_MS: Final = described(INTEGER, "when the message was built, host clock, ms")
_ROW: Final = (
    {"timestamp": described(INTEGER, "open time, ms"), "time": described(INTEGER, "seconds")}
    | numbers("open", "high", "low", "close", "volume")
    | {"closed": BOOLEAN}
)
TIME_RANGE: Final[Schema] = obj({"start": nullable(INTEGER), "end": nullable(INTEGER)})
SYMBOL_DATA: Final[Schema] = obj(
    {"id": STRING, "symbol": STRING, "uiName": STRING, "priceFormat": {"type": "object"}},
    open_ended=True,  # the symbol service's object, described in docs/orderfox.md
)
DEPTH_INFO: Final[Schema] = obj(
    {
        "requested_levels": INTEGER,
        "actual_levels": INTEGER,
        "is_market_depth_limited": BOOLEAN,
        "raw_bids_count": INTEGER,
        "raw_asks_count": INTEGER,
        "min_required_raw_data": INTEGER,
        "has_insufficient_raw_data": BOOLEAN,
    }
    | numbers("total_bid_volume", "total_ask_volume")
)

_error = message(
    "error",
    "A message the socket does not take (it stays open), or a refusal before a close.",
    obj(
        {"type": const("error"), "code": ERROR_CODE, "message": STRING, "symbol": STRING},
        {"suggestions": STRINGS, "valid_intervals": STRINGS},
    ),
)

BOOK: Final = ChannelSpec(
    "orderfoxBook",
    "/api/v1/ws/orderbook/{symbol}",
    "An aggregated order book, pushed after every change (the query form "
    "/api/v1/ws/orderbook?symbol= is the same socket).",
    sends={
        "orderfoxBookUpdate": message(
            "orderbook_update",
            "The whole view: bids and asks high to low, at most BOOK_PUSH_HZ a second.",
            obj(
                {
                    "type": const("orderbook_update"),
                    "symbol": STRING,
                    "bids": array(BOOK_LEVEL),
                    "asks": array(BOOK_LEVEL),
                    "timestamp": described(INTEGER, "exchange time of the last change, ms"),
                    "limit": INTEGER,
                    "rounding": NUMBER,
                    "rounding_options": array(NUMBER),
                    "market_depth_info": DEPTH_INFO,
                    "aggregated": const(True),
                    "last_update_id": INTEGER,
                }
                | {k: nullable(NUMBER) for k in ("best_bid", "best_ask", "spread", "mid_price")}
            ),
        ),
        "orderfoxParamsUpdated": message(
            "params_updated",
            "Answer to update_params; a fresh push follows.",
            obj(
                {
                    "type": const("params_updated"),
                    "symbol": STRING,
                    "limit": INTEGER,
                    "rounding": NUMBER,
                    "rounding_options": array(NUMBER),
                }
            ),
        ),
        "orderfoxPong": PONG,
        "orderfoxError": _error,
    },
    receives={
        "orderfoxUpdateParams": message(
            "update_params",
            "Change limit and/or rounding without reconnecting.",
            obj(
                {"type": const("update_params")},
                {
                    "limit": {"anyOf": [INTEGER, STRING, {"type": "null"}]},
                    "rounding": {"anyOf": [NUMBER, STRING, {"type": "null"}]},
                },
            ),
        ),
        "orderfoxPing": PING,
    },
    query={"limit": INTEGER, "rounding": STRING},
)

CANDLES: Final = ChannelSpec(
    "orderfoxCandles",
    "/api/v1/ws/candles/{symbol}/{timeframe}",
    "Chart candles: history sized to the chart, then every stored change (the form "
    "/api/v1/ws/candles/{symbol}?timeframe= is the same socket).",
    sends={
        "orderfoxHistoricalCandles": message(
            "historical_candles",
            "clamp(floor(container_width / 2), 200, 1000) candles, oldest first.",
            obj(
                {
                    "type": const("historical_candles"),
                    "symbol": STRING,
                    "timeframe": STRING,
                    "data": array(obj(_ROW)),
                    "count": INTEGER,
                    "time_range": TIME_RANGE,
                    "symbolData": SYMBOL_DATA,
                }
            ),
        ),
        "orderfoxCandleUpdate": message(
            "candle_update",
            "A stored change of a candle.",
            obj(
                {"type": const("candle_update"), "symbol": STRING, "timeframe": STRING}
                | _ROW
                | {"stream_timestamp": HOST_MS}
            ),
        ),
        "orderfoxPong": PONG,
        "orderfoxError": _error,
    },
    receives={"orderfoxPing": PING},
    query={"container_width": described(NUMBER, "chart width in pixels")},
)

TRADES: Final = ChannelSpec(
    "orderfoxTrades",
    "/api/v1/ws/trades/{symbol}",
    "The tape's newest 100 trades, newest first, each time it gains trades.",
    sends={
        "orderfoxTradesUpdate": message(
            "trades_update",
            "The whole window (initial: true for the first).",
            obj(
                {
                    "type": const("trades_update"),
                    "symbol": STRING,
                    "trades": array(TRADE),
                    "initial": BOOLEAN,
                    "timestamp": HOST_MS,
                }
            ),
        ),
        "orderfoxPong": PONG,
        "orderfoxError": _error,
    },
    receives={"orderfoxPing": PING},
)

_SAMPLE: Final = {"sample": const(True), "timestamp": HOST_MS}

LIQUIDATIONS: Final = ChannelSpec(
    "orderfoxLiquidations",
    "/api/v1/ws/liquidations/{symbol}",
    "Liquidations (a sample: at most one per symbol per second upstream) and, with "
    "?timeframe=, their volume buckets.",
    sends={
        "orderfoxLiquidationOrder": message(
            "liquidation_order",
            "The newest liquidations first (initial: true, a list), then one object each.",
            {
                "oneOf": [
                    obj(
                        {"type": const("liquidation_order"), "symbol": STRING}
                        | {"data": array(LIQUIDATION), "initial": const(True)}
                        | _SAMPLE
                    ),
                    obj(
                        {"type": const("liquidation_order"), "symbol": STRING}
                        | {"data": LIQUIDATION}
                        | _SAMPLE
                    ),
                ]
            },
        ),
        "orderfoxLiquidationVolume": message(
            "liquidation_volume",
            "The held buckets (is_update: false), then the bucket holding each new one.",
            obj(
                {
                    "type": const("liquidation_volume"),
                    "symbol": STRING,
                    "timeframe": STRING,
                    "data": array(VOLUME_BUCKET),
                    "is_update": BOOLEAN,
                }
                | _SAMPLE
            ),
        ),
        "orderfoxHeartbeat": message(
            "heartbeat",
            "After 30 s without a liquidation message.",
            obj({"type": const("heartbeat"), "symbol": STRING, "timestamp": HOST_MS}),
        ),
        "orderfoxPong": PONG,
        "orderfoxError": _error,
    },
    receives={"orderfoxPing": PING},
    query={"timeframe": described(STRING, "1m 5m 15m 30m 1h 4h 1d")},
)

SOCKETS: Final = (BOOK, CANDLES, TRADES, LIQUIDATIONS)
