"""The native ``/ws`` client protocol: parse and validate one client message (pure).

Client messages::

    {"op": "subscribe", "channel": "candles", "symbol": "BTCUSDT", "interval": "1m",
     "since": 1700000000, "limit": 500}
    {"op": "unsubscribe", "channel": "candles", "symbol": "BTCUSDT", "interval": "1m"}
    {"op": "ping"}

``since`` is the open time (seconds, or milliseconds if it is that large) of the last
candle the client holds: it then receives every stored candle from there on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from marketcast.domain.intervals import Interval
from marketcast.errors import InvalidRequest

CHANNELS: Final = ("candles", "indicators", "trades", "orderbook", "liquidations")
SUPPORTED_CHANNELS: Final = ("candles", "indicators")
# Anything this large is a millisecond epoch: 1e11 s lies in the year 5138.
_MS_THRESHOLD: Final = 100_000_000_000


@dataclass(frozen=True, slots=True)
class Subscribe:
    channel: str
    symbol: str
    interval: Interval
    since_ms: int | None
    limit: int | None
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channel: str
    symbol: str
    interval: Interval


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientMessage = Subscribe | Unsubscribe | Ping


class ProtocolError(InvalidRequest):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def epoch_ms(value: int) -> int:
    """Accept seconds or milliseconds; return milliseconds."""
    return value if abs(value) >= _MS_THRESHOLD else value * 1000


def parse_client_message(raw: str | bytes) -> ClientMessage:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("malformed", "message is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("malformed", "message must be a JSON object")
    op = message.get("op")
    if op == "ping":
        return Ping()
    if op not in ("subscribe", "unsubscribe"):
        raise ProtocolError("unknown_op", "op must be one of subscribe, unsubscribe, ping")
    channel = message.get("channel", "candles")
    if channel not in CHANNELS:
        raise ProtocolError("unknown_channel", f"channel must be one of {', '.join(CHANNELS)}")
    if channel not in SUPPORTED_CHANNELS:
        raise ProtocolError("unsupported_channel", f"channel {channel!r} is not available yet")
    symbol = message.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ProtocolError("invalid_symbol", "symbol must be a non-empty string")
    interval = Interval.parse(_string(message, "interval", "1m"))
    if op == "unsubscribe":
        return Unsubscribe(channel, symbol, interval)
    since = _optional_int(message, "since")
    limit = _optional_int(message, "limit")
    since_ms = epoch_ms(since) if since is not None else None
    return Subscribe(channel, symbol, interval, since_ms, limit, _names(message))


def _names(message: dict[str, Any]) -> tuple[str, ...]:
    names = message.get("names", ())
    if isinstance(names, str):
        names = names.split(",")
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ProtocolError("malformed", "names must be a list of strings or a comma list")
    return tuple(names)


def _string(message: dict[str, Any], key: str, default: str) -> str:
    value = message.get(key, default)
    if not isinstance(value, str):
        raise ProtocolError("malformed", f"{key} must be a string")
    return value


def _optional_int(message: dict[str, Any], key: str) -> int | None:
    value = message.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("malformed", f"{key} must be an integer")
    return value
