"""JSON Schemas of the rows every contract shares (``shapes.py`` builds them): order-book
levels, trades, liquidations and liquidation-volume buckets, for ``/asyncapi.json``."""

from __future__ import annotations

from typing import Final

from marketcast.api.schemas import (
    INTEGER,
    NUMBER,
    STRING,
    Schema,
    numbers,
    obj,
    one_of_values,
    strings,
)

BOOK_LEVEL: Final[Schema] = obj(
    numbers("price", "amount", "cumulative")
    | strings("price_formatted", "amount_formatted", "cumulative_formatted")
)

TRADE: Final[Schema] = obj(
    {"id": INTEGER}
    | numbers("price", "amount")
    | {"side": one_of_values(["buy", "sell"]), "timestamp": INTEGER}
    | strings("price_formatted", "amount_formatted", "time_formatted")
)

LIQUIDATION: Final[Schema] = obj(
    {
        "symbol": STRING,
        "side": one_of_values(["BUY", "SELL"]),
        "quantity": NUMBER,
        "quantityFormatted": STRING,
        "priceUsdt": NUMBER,
        "priceUsdtFormatted": STRING,
        "timestamp": INTEGER,
        "displayTime": STRING,
        "avgPrice": NUMBER,
        "baseAsset": STRING,
    }
)

VOLUME_BUCKET: Final[Schema] = obj(
    {"time": INTEGER, "timestamp_ms": INTEGER, "count": INTEGER}
    | numbers("buy_volume", "sell_volume", "total_volume", "delta_volume")
    | strings(
        "buy_volume_formatted",
        "sell_volume_formatted",
        "total_volume_formatted",
        "delta_volume_formatted",
    )
)

ERROR_CODE: Final[Schema] = {
    "type": "string",
    "description": "machine-readable reason, e.g. unknown_symbol, invalid_interval, "
    "invalid_limit, invalid_request, capacity_exceeded, not_ready, rate_limited, too_large",
}
