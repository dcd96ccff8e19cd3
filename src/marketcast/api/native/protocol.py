"""The native ``/ws`` client protocol: parse and validate one client message (pure).

Client messages, one channel each::

    {"op": "subscribe", "channel": "candles", "symbol": "BTCUSDT", "interval": "1m",
     "since": 1700000000, "limit": 500}
    {"op": "subscribe", "channel": "indicators", "symbol": "BTCUSDT", "interval": "1m",
     "names": ["ema20", "rsi14"], "limit": 200}
    {"op": "subscribe", "channel": "orderbook", "symbol": "BTCUSDT", "limit": 20,
     "rounding": "0.1"}
    {"op": "subscribe", "channel": "depth", "symbol": "BTCUSDT"}
    {"op": "subscribe", "channel": "trades", "symbol": "BTCUSDT", "limit": 50,
     "since": 3055171}
    {"op": "subscribe", "channel": "liquidations", "symbol": "BTCUSDT", "limit": 50,
     "timeframe": "5m"}
    {"op": "unsubscribe", "channel": "candles", "symbol": "BTCUSDT", "interval": "1m"}
    {"op": "unsubscribe", "channel": "orderbook", "symbol": "BTCUSDT"}
    {"op": "ping"}

Every message may name a ``market`` (``spot`` | ``usdm``, default the node's ``--market``);
a ccxt unified symbol names it too (``BTC/USDT:USDT`` is the USD-M perpetual).

``since`` means what the client already holds: on ``candles`` the open time (seconds, or
milliseconds if it is that large) of its last candle, on ``trades`` the id of its last
trade. ``rounding`` is a decimal string or a JSON number (``"0.1"`` or ``0.1``).

Only the shape is checked here. Ranges that depend on the node (``limit`` bounds, the
symbol's rounding options, whether a symbol exists) are checked by the channel handlers,
with the same error codes on the socket and on REST.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, Literal

import orjson

from marketcast.api.errors import ProtocolError
from marketcast.api.params import epoch_ms
from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import parse_timeframe

CHANNELS: Final = ("candles", "indicators", "trades", "orderbook", "depth", "liquidations")
FeedChannel = Literal["trades", "orderbook", "depth", "liquidations"]
FEED_CHANNELS: Final[tuple[FeedChannel, ...]] = ("trades", "orderbook", "depth", "liquidations")


@dataclass(frozen=True, slots=True)
class Subscribe:
    """A ``candles`` or ``indicators`` subscription."""

    channel: str
    symbol: str
    interval: Interval
    since_ms: int | None
    limit: int | None
    names: tuple[str, ...] = ()
    market: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Stop a ``candles`` or ``indicators`` subscription."""

    channel: str
    symbol: str
    interval: Interval
    market: str | None = None


@dataclass(frozen=True, slots=True)
class BookSubscribe:
    """Aggregated order book of ``limit`` buckets per side of size ``rounding``
    (``None``: the node's defaults)."""

    channel: ClassVar[FeedChannel] = "orderbook"
    symbol: str
    limit: int | None = None
    rounding: Decimal | None = None
    market: str | None = None


@dataclass(frozen=True, slots=True)
class DepthSubscribe:
    """The exact book: every level held, then every change."""

    channel: ClassVar[FeedChannel] = "depth"
    symbol: str
    market: str | None = None


@dataclass(frozen=True, slots=True)
class TradeSubscribe:
    """Recent trades, then every new one; ``since_id``: the last trade id the client holds."""

    channel: ClassVar[FeedChannel] = "trades"
    symbol: str
    limit: int | None = None
    since_id: int | None = None
    market: str | None = None


@dataclass(frozen=True, slots=True)
class LiquidationSubscribe:
    """Recent liquidations, then every new one; volume buckets when ``timeframe`` is set."""

    channel: ClassVar[FeedChannel] = "liquidations"
    symbol: str
    limit: int | None = None
    timeframe: Interval | None = None
    market: str | None = None


@dataclass(frozen=True, slots=True)
class FeedUnsubscribe:
    """Stop a ``trades``, ``orderbook``, ``depth`` or ``liquidations`` subscription."""

    channel: FeedChannel
    symbol: str
    market: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


FeedSubscribe = BookSubscribe | DepthSubscribe | TradeSubscribe | LiquidationSubscribe
ClientMessage = Subscribe | Unsubscribe | FeedSubscribe | FeedUnsubscribe | Ping


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
    symbol = message.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ProtocolError("invalid_symbol", "symbol must be a non-empty string")
    market = message.get("market")
    if market is not None and not isinstance(market, str):
        raise ProtocolError("malformed", "market must be a string: spot or usdm")
    if channel in FEED_CHANNELS:
        return _feed_message(op, channel, symbol, market, message)
    interval = Interval.parse(_string(message, "interval", "1m"))
    if op == "unsubscribe":
        return Unsubscribe(channel, symbol, interval, market)
    since = _optional_int(message, "since")
    limit = _optional_int(message, "limit")
    since_ms = epoch_ms(since) if since is not None else None
    return Subscribe(channel, symbol, interval, since_ms, limit, _names(message), market)


def _feed_message(
    op: str, channel: FeedChannel, symbol: str, market: str | None, message: dict[str, Any]
) -> FeedSubscribe | FeedUnsubscribe:
    if op == "unsubscribe":
        return FeedUnsubscribe(channel, symbol, market)
    if channel == "depth":
        return DepthSubscribe(symbol, market)
    limit = _optional_int(message, "limit")
    if channel == "orderbook":
        return BookSubscribe(symbol, limit, parse_rounding(message.get("rounding")), market)
    if channel == "trades":
        return TradeSubscribe(symbol, limit, _optional_int(message, "since"), market)
    timeframe = message.get("timeframe")
    if timeframe is not None and not isinstance(timeframe, str):
        raise ProtocolError("malformed", "timeframe must be a string")
    # An unknown timeframe raises InvalidInterval, which lists the seven valid ones.
    parsed = None if timeframe is None else parse_timeframe(timeframe)
    return LiquidationSubscribe(symbol, limit, parsed, market)


def parse_rounding(value: object) -> Decimal | None:
    """A bucket size as an exact decimal: ``"0.1"`` and ``0.1`` both give ``Decimal("0.1")``.

    ``None`` and ``""`` mean "the default". A float is read by its shortest repr, so the
    JSON number ``0.1`` is exactly one tenth, as the client meant.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ProtocolError("malformed", "rounding must be a decimal string or a number")
    try:
        rounding = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise ProtocolError("invalid_rounding", f"rounding {value!r} is not a number") from None
    if not rounding.is_finite() or rounding <= 0:
        raise ProtocolError("invalid_rounding", f"rounding must be positive, not {value!r}")
    return rounding


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
