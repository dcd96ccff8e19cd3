"""Wire shapes of candles, one function per contract, and their encode-once encoders.

Native and SmartTrade's ``/ws/candles*`` use ``time`` in seconds; SmartTrade's
``/ws/{symbol}`` and ``/api/historical`` use milliseconds. Each ``encode_*`` function is a
bus :data:`~marketcast.hub.bus.Encoder`: the bus calls it at most once per published
candle and shares the text among all connections of that contract.
"""

from __future__ import annotations

from typing import Any

import orjson

from marketcast.domain.candles import Candle
from marketcast.hub.bus import Published

Json = dict[str, Any]


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def candle_native(c: Candle) -> Json:
    return {
        "time": c.time,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "volume": c.volume,
        "closed": c.closed,
    }


def candle_smarttrade(c: Candle) -> Json:
    return {
        "time": c.time,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "volume": c.volume,
        "is_closed": c.closed,
    }


def candle_smarttrade_ms(c: Candle) -> Json:
    return {**candle_smarttrade(c), "time": c.open_time}


def encode_native(event: Published) -> str:
    return dumps(
        {
            "type": "candle",
            "channel": "candles",
            "symbol": event.topic.symbol,
            "interval": event.topic.interval.code,
            "candle": candle_native(event.candle),
            "event_time": event.event_ms,
        }
    )


def encode_smarttrade_candle(event: Published) -> str:
    return dumps(
        {
            "type": "candle",
            "symbol": event.topic.symbol,
            "interval": event.topic.interval.code,
            "candle": candle_smarttrade(event.candle),
        }
    )


def encode_smarttrade_live(event: Published) -> str:
    return dumps(
        {"type": "live_candle", "symbol": event.topic.symbol, **candle_smarttrade_ms(event.candle)}
    )


def error_message(code: str, message: str, **details: Any) -> str:
    return dumps({"type": "error", "code": code, "message": message, **details})
