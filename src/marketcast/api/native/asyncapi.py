"""The native ``/ws`` protocol for ``/asyncapi.json`` (prose: ``docs/native.md``)."""

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
    one_of_values,
)

CHANNELS: Final = ("candles", "indicators", "orderbook", "depth", "trades", "liquidations")
LIQUIDATION_TIMEFRAMES: Final = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")

CANDLE: Final[Schema] = obj(
    {"time": described(INTEGER, "open time, seconds")}
    | numbers("open", "high", "low", "close", "volume")
    | {"closed": described(BOOLEAN, "true once final")}
)
INDICATOR_VALUE: Final[Schema] = {
    "anyOf": [NUMBER, {"type": "null"}, {"type": "object", "additionalProperties": NUMBER}],
    "description": "a number (null while warming up), or an object for multi-valued ones",
}
INDICATOR_POINT: Final[Schema] = {
    "type": "object",
    "properties": {"time": INTEGER},
    "required": ["time"],
    "additionalProperties": nullable(NUMBER),
}
DEPTH: Final[Schema] = obj(
    {
        "requested_levels": INTEGER,
        "actual_levels": INTEGER,
        "is_market_depth_limited": BOOLEAN,
        "raw_bids_count": INTEGER,
        "raw_asks_count": INTEGER,
        "has_insufficient_raw_data": BOOLEAN,
    }
    | numbers("total_bid_volume", "total_ask_volume")
    | {k: nullable(NUMBER) for k in ("best_bid", "best_ask", "spread", "mid_price")}
)


MARKET: Final[Schema] = described(
    one_of_values(("spot", "usdm")), "the market: spot or usdm (USD-M perpetuals)"
)
LIQUIDATIONS_MARKET: Final[Schema] = described(
    const("usdm"), "always usdm: liquidations exist only on USD-M perpetuals"
)
EXACT_LEVEL: Final[Schema] = described(
    {"type": "array", "items": STRING, "minItems": 2, "maxItems": 2},
    '[price, quantity] as the exchange\'s decimal strings; quantity "0" deletes the level',
)
EXACT_BOOK: Final[dict[str, Schema]] = {
    "symbol": STRING,
    "market": MARKET,
    "last_update_id": described(INTEGER, "the exchange's update id the book is at"),
    "bids": described(array(EXACT_LEVEL), "best (highest) first"),
    "asks": described(array(EXACT_LEVEL), "best (lowest) first"),
}


def _envelope(kind: str, channel: str | None, fields: dict[str, Schema]) -> Schema:
    head: dict[str, Schema] = {"type": const(kind)}
    if channel is not None:
        head["channel"] = const(channel)
    return head | fields


def _book(kind: str, *, with_options: bool) -> Schema:
    fields = {
        "symbol": STRING,
        "market": MARKET,
        "limit": INTEGER,
        "rounding": NUMBER,
        "price_precision": INTEGER,
        "amount_precision": INTEGER,
        "bids": array(BOOK_LEVEL),
        "asks": array(BOOK_LEVEL),
        "depth": DEPTH,
        "update_id": INTEGER,
        "timestamp": described(nullable(INTEGER), "exchange time of the last change, ms"),
        "version": INTEGER,
    }
    if with_options:
        fields["rounding_options"] = array(NUMBER)
    return _envelope(kind, "orderbook", fields)


_SNAPSHOTS: Final = [
    obj(
        _envelope(
            "snapshot",
            "candles",
            {
                "symbol": STRING,
                "market": MARKET,
                "interval": STRING,
                "reset": BOOLEAN,
                "candles": array(CANDLE),
            },
        )
    ),
    obj(
        _envelope(
            "snapshot",
            "indicators",
            {
                "symbol": STRING,
                "market": MARKET,
                "interval": STRING,
                "names": STRINGS,
                "series": {"type": "object", "additionalProperties": array(INDICATOR_POINT)},
            },
        )
    ),
    obj(_book("snapshot", with_options=True)),
    obj(
        _envelope(
            "snapshot",
            "depth",
            EXACT_BOOK | {"reset": described(BOOLEAN, "true: replace the copy held")},
        )
    ),
    obj(
        _envelope(
            "snapshot",
            "trades",
            {"symbol": STRING, "market": MARKET, "reset": BOOLEAN, "trades": array(TRADE)},
        )
    ),
    obj(
        _envelope(
            "snapshot",
            "liquidations",
            {
                "symbol": STRING,
                "market": LIQUIDATIONS_MARKET,
                "sample": const(True),
                "note": STRING,
                "liquidations": array(LIQUIDATION),
            },
        ),
        {"timeframe": one_of_values(LIQUIDATION_TIMEFRAMES), "volume": array(VOLUME_BUCKET)},
    ),
]

SENDS: Final = {
    "nativeSnapshot": message(
        "snapshot",
        "First answer to a subscribe: the channel's current state.",
        {"oneOf": _SNAPSHOTS},
    ),
    "nativeCandle": message(
        "candle",
        "A stored change of one candle; upsert by time.",
        obj(
            _envelope(
                "candle",
                "candles",
                {
                    "symbol": STRING,
                    "market": MARKET,
                    "interval": STRING,
                    "candle": CANDLE,
                    "event_time": described(nullable(INTEGER), "exchange push time, ms"),
                },
            )
        ),
    ),
    "nativeIndicators": message(
        "indicators",
        "Indicator values at the candle that changed.",
        obj(
            _envelope(
                "indicators",
                "indicators",
                {
                    "symbol": STRING,
                    "market": MARKET,
                    "interval": STRING,
                    "time": INTEGER,
                    "closed": BOOLEAN,
                    "values": {"type": "object", "additionalProperties": INDICATOR_VALUE},
                },
            )
        ),
    ),
    "nativeOrderbook": message(
        "orderbook",
        "The whole book view after a change.",
        obj(_book("orderbook", with_options=False)),
    ),
    "nativeDepth": message(
        "depth",
        "Every level changed after first_update_id - 1, at its quantity now.",
        obj(
            _envelope(
                "depth",
                "depth",
                EXACT_BOOK | {"first_update_id": described(INTEGER, "the held last_update_id + 1")},
            )
        ),
    ),
    "nativeTrades": message(
        "trades",
        "Trades new to the tape, ascending id.",
        obj(
            _envelope(
                "trades", "trades", {"symbol": STRING, "market": MARKET, "trades": array(TRADE)}
            )
        ),
    ),
    "nativeLiquidation": message(
        "liquidation",
        "One new liquidation, with the bucket now holding it when a timeframe is set.",
        obj(
            _envelope(
                "liquidation",
                "liquidations",
                {"symbol": STRING, "market": LIQUIDATIONS_MARKET, "liquidation": LIQUIDATION},
            ),
            {
                "timeframe": one_of_values(LIQUIDATION_TIMEFRAMES),
                "bucket": nullable(VOLUME_BUCKET),
            },
        ),
    ),
    "nativeUnsubscribed": message(
        "unsubscribed",
        "Answer to unsubscribe.",
        obj(
            {
                "type": const("unsubscribed"),
                "channel": one_of_values(CHANNELS),
                "market": MARKET,
                "symbol": STRING,
            },
            {"interval": STRING},
        ),
    ),
    "nativePong": message("pong", "Answer to ping.", obj({"type": const("pong")})),
    "nativeError": message(
        "error",
        "A refused message; the connection stays up.",
        obj(
            {"type": const("error"), "code": ERROR_CODE, "message": STRING},
            {"suggestions": STRINGS, "valid_intervals": STRINGS},
        ),
    ),
}

_SUBSCRIBE_FIELDS: Final[dict[str, Schema]] = {
    "channel": one_of_values(CHANNELS),
    "symbol": STRING,
    "interval": STRING,
    "since": INTEGER,
    "limit": INTEGER,
    "names": {"anyOf": [STRINGS, STRING]},
    "rounding": {"anyOf": [STRING, NUMBER]},
    "timeframe": one_of_values(LIQUIDATION_TIMEFRAMES),
    "market": MARKET,
}

RECEIVES: Final = {
    "nativeSubscribe": message(
        "subscribe",
        "Start (or replace) a subscription; the snapshot acknowledges it.",
        obj({"op": const("subscribe"), "symbol": STRING}, _SUBSCRIBE_FIELDS),
    ),
    "nativeUnsubscribe": message(
        "unsubscribe",
        "Stop a subscription.",
        obj(
            {"op": const("unsubscribe"), "symbol": STRING},
            {"channel": one_of_values(CHANNELS), "interval": STRING, "market": MARKET},
        ),
    ),
    "nativePing": message("ping", "Answered with pong.", obj({"op": const("ping")})),
}

NATIVE: Final = ChannelSpec(
    "native",
    "/ws",
    "marketcast's multiplexed socket: candles, indicators, order books (rounded views and "
    "the exact book), trades and liquidations. With ?batch_ms=N every frame is a JSON array "
    "of these messages.",
    sends=SENDS,
    receives=RECEIVES,
    query={
        "token": described(STRING, "the access token, when one is required"),
        "batch_ms": described(INTEGER, "0..1000: frames become arrays of messages"),
    },
)
