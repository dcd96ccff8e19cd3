"""SmartTrade's sockets for ``/asyncapi.json`` (prose: ``docs/smarttrade.md``)."""

from __future__ import annotations

from typing import Final

from marketcast.api.feeds.row_schemas import ERROR_CODE
from marketcast.api.schemas import (
    BOOLEAN,
    INTEGER,
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
    numbers,
    obj,
)

_OHLCV: Final = numbers("open", "high", "low", "close", "volume")
CANDLE: Final[Schema] = obj(
    {"time": described(INTEGER, "open time, seconds")} | _OHLCV | {"is_closed": BOOLEAN}
)
CANDLE_MS: Final[Schema] = obj(
    {"time": described(INTEGER, "open time, milliseconds")} | _OHLCV | {"is_closed": BOOLEAN}
)
INTERVAL_QUERY: Final = {"interval": described(STRING, "kline interval, default 1m")}

_candle = message(
    "candle",
    "A stored change of a candle (also the catch-up candles sent on subscribe).",
    obj({"type": const("candle"), "symbol": STRING, "interval": STRING, "candle": CANDLE}),
)
_refusal = message(
    "refusal",
    "Why the socket cannot be served; close 4000 follows.",
    obj({"type": const("error"), "message": STRING}),
)
_topic = obj({"symbol": STRING}, {"interval": STRING})

CANDLES: Final = ChannelSpec(
    "smarttradeCandles",
    "/ws/candles",
    "Any number of candle topics on one socket.",
    sends={
        "smarttradeCandle": _candle,
        "smarttradeSubscribed": message(
            "subscribed",
            "A topic was added (after its catch-up candles).",
            obj({"type": const("subscribed"), "symbol": STRING, "interval": STRING}),
        ),
        "smarttradeError": message(
            "error",
            "A refused message; nothing changed and the socket stays usable.",
            obj(
                {"type": const("error"), "code": ERROR_CODE, "message": STRING},
                {"suggestions": STRINGS, "valid_intervals": STRINGS},
            ),
        ),
    },
    receives={
        "smarttradeAdd": message("add", "Add one topic (interval default 1m).", _topic),
        "smarttradeReplace": message(
            "replace",
            "Replace the whole set of topics.",
            obj({"subscriptions": array(_topic)}),
        ),
    },
)

CANDLES_ONE: Final = ChannelSpec(
    "smarttradeCandlesOne",
    "/ws/candles/{symbol}",
    "One candle topic: catch-up candles, then every stored change.",
    sends={"smarttradeCandle": _candle, "smarttradePong": PONG, "smarttradeRefusal": _refusal},
    receives={"smarttradePing": PING},
    query=INTERVAL_QUERY,
)

LIVE: Final = ChannelSpec(
    "smarttradeLive",
    "/ws/{symbol}",
    "One candle topic: the history, then flat live candles (times in milliseconds).",
    sends={
        "smarttradeHistorical": message(
            "historical",
            "The newest stored candles (at most 720), oldest first.",
            obj({"type": const("historical"), "symbol": STRING, "data": array(CANDLE_MS)}),
        ),
        "smarttradeLiveCandle": message(
            "live_candle",
            "A stored change of a candle, flat.",
            obj(
                {"type": const("live_candle"), "symbol": STRING, "time": INTEGER}
                | _OHLCV
                | {"is_closed": BOOLEAN}
            ),
        ),
        "smarttradePong": PONG,
        "smarttradeRefusal": _refusal,
    },
    receives={"smarttradePing": PING},
    query=INTERVAL_QUERY,
)

SOCKETS: Final = (CANDLES, CANDLES_ONE, LIVE)
