"""SmartTrade's candle shapes and their encode-once encoders (pure).

``/ws/candles*`` candles carry ``time`` in seconds; ``/ws/{symbol}`` and
``/api/historical`` rows carry it in milliseconds. Both name the closed flag
``is_closed``. Each ``encode_*`` function is a bus
:data:`~marketcast.hub.candles.bus.Encoder`: the bus calls it at most once per published
candle and shares the text among all connections of that shape.
"""

from __future__ import annotations

from marketcast.api.transport.messages import Json, dumps
from marketcast.domain.candles import Candle
from marketcast.hub.candles.bus import Published


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
