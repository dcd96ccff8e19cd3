"""Where a Binance payload becomes a marketcast value: klines and stream frames.

Depth, trade and liquidation events are parsed by :mod:`.depth`, :mod:`.trades` and
:mod:`.force_orders`, exchange info by :mod:`.exchange_info`; this module only routes
frames to them.

Pure functions only. Anything that does not look like what Binance documents raises
:class:`ExchangeProtocolError`, so the caller can count the frame, log it and carry on:
one garbage frame must never take a connection down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, cast

import orjson

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeProtocolError, InvalidInterval, InvalidRequest
from marketcast.exchanges.binance.depth import (
    DepthEvent,
    parse_futures_depth_event,
    parse_spot_depth_event,
)
from marketcast.exchanges.binance.fields import non_negative_int
from marketcast.exchanges.binance.force_orders import FORCE_ORDER_EVENT, parse_force_order_event
from marketcast.exchanges.binance.messages import (
    ControlReply,
    KlineUpdate,
    LiquidationEvent,
    ServerShutdown,
    StreamMessage,
)
from marketcast.exchanges.binance.trades import TRADE_EVENT_TYPES, TradeEvent, parse_trade_event

_KLINE_STREAM = "@kline_"
# A REST kline row has 12 fields; the ones we read end at the trade count.
_REST_ROW_MIN_FIELDS = 9
# The raw market streams the stream client carries besides klines: spot diff depth at
# 1000 ms (plain) or 100 ms, futures at 250 ms (plain), 100 ms or 500 ms.
_MARKET_STREAM = re.compile(
    r"[a-z0-9]+@(?:depth|depth@100ms|depth@250ms|depth@500ms|trade|aggTrade|forceOrder)"
)


def stream_name(topic: Topic) -> str:
    """``Topic("BTCUSDT", 1m)`` -> ``"btcusdt@kline_1m"`` (symbols lower-case, interval as is)."""
    return f"{topic.symbol.lower()}{_KLINE_STREAM}{topic.interval.code}"


def topic_from_stream(name: str) -> Topic:
    """Inverse of :func:`stream_name`; the interval stays case-sensitive (``1M`` is a month)."""
    symbol, sep, code = name.partition(_KLINE_STREAM)
    if not sep or not symbol or "@" in code:
        raise ExchangeProtocolError(f"not a kline stream name: {name!r}")
    return Topic(symbol.upper(), _interval(code))


def check_market_stream(name: str) -> str:
    """``name`` if it is a raw market stream we carry, otherwise :class:`InvalidRequest`.

    Carried: ``<symbol>@depth`` (also ``@depth@100ms``, and on futures ``@depth@250ms``,
    ``@depth@500ms``), ``@trade``, ``@aggTrade`` and ``@forceOrder``, symbol lower-case.
    Whether the market has the stream is not checked here: see :mod:`.routing`.
    """
    if _MARKET_STREAM.fullmatch(name) is None:
        raise InvalidRequest(
            f"not a market stream name: {name!r:.60}; expected a lower-case symbol and "
            "@depth, @depth@100ms, @depth@250ms, @depth@500ms, @trade, @aggTrade or "
            "@forceOrder"
        )
    return name


def parse_rest_kline(row: object, *, closed: bool) -> Candle:
    """One row of ``GET /api/v3/klines``.

    Binance does not say whether a REST row is final, so the caller decides ``closed``.
    A real row (from Binance's documentation)::

        [1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100",
         "148976.11427815", 1499644799999, "2434.19055334", 308, "1756.87402397",
         "28.46694368", "17928899.62484339"]

    Fields: open time, open, high, low, close, volume, close time, quote volume,
    trade count, taker buy base volume, taker buy quote volume, ignore.
    """
    if not isinstance(row, list) or len(row) < _REST_ROW_MIN_FIELDS:
        raise ExchangeProtocolError(f"kline row is not a list of >= 9 fields: {row!r:.200}")
    fast = _rest_kline_as_sent(row, closed)
    return fast if fast is not None else _rest_kline_checked(row, closed)


def _rest_kline_as_sent(row: list[Any], closed: bool) -> Candle | None:
    """The row as Binance sends it (decimal strings, integer times), without per-field
    calls: a bootstrap parses 1000 rows per topic. ``None`` for anything else."""
    t, o, h, lo, c, v, _, q, n = row[:9]
    if not (type(t) is int and type(n) is int and t >= 0 and n >= 0):
        return None
    if not (type(o) is type(h) is type(lo) is type(c) is type(v) is type(q) is str):
        return None
    try:
        prices = float(o), float(h), float(lo), float(c), float(v), float(q)
    except ValueError:
        return None
    if not all(map(math.isfinite, prices)):
        return None
    return Candle(t, *prices, n, closed)


def _rest_kline_checked(row: list[Any], closed: bool) -> Candle:
    """Field by field, naming the first bad one."""
    return Candle(
        open_time=non_negative_int(row[0], "open time"),
        open=_decimal(row[1], "open"),
        high=_decimal(row[2], "high"),
        low=_decimal(row[3], "low"),
        close=_decimal(row[4], "close"),
        volume=_decimal(row[5], "volume"),
        quote_volume=_decimal(row[7], "quote volume"),
        trades=non_negative_int(row[8], "trade count"),
        closed=closed,
    )


def parse_ws_message(raw: bytes | str) -> StreamMessage:
    """Decode one text frame from a raw (``/ws``) or combined (``/stream``) connection.

    A real combined kline frame (payload from Binance's documentation)::

        {"stream": "bnbbtc@kline_1m",
         "data": {"e": "kline", "E": 1672515782136, "s": "BNBBTC",
                  "k": {"t": 1672515780000, "T": 1672515839999, "s": "BNBBTC",
                        "i": "1m", "f": 100, "L": 200, "o": "0.0010", "c": "0.0020",
                        "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100,
                        "x": false, "q": "1.0000", "V": "500", "Q": "0.500",
                        "B": "123456"}}}

    Besides klines: ``{"e": "serverShutdown", "E": 1770123456789}`` (also accepted
    wrapped as ``{"event": {...}}`` like the WebSocket API sends it, or inside
    ``{"stream", "data"}``), and control replies ``{"result": null, "id": 1}`` or
    ``{"code": 2, "msg": "Invalid request: ...", "id": 1}``.
    ``depthUpdate`` events become :class:`DepthEvent` (futures ones, which carry ``pu``,
    with :attr:`BookDiff.previous_final` set), ``trade``/``aggTrade`` events
    :class:`TradeEvent` and ``forceOrder`` events :class:`LiquidationEvent` (payloads in
    :mod:`.depth`, :mod:`.trades` and :mod:`.force_orders`).
    """
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ExchangeProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ExchangeProtocolError(f"frame is not a JSON object: {str(raw)[:200]}")
    if "stream" in message or "data" in message:
        return _parse_combined(message)
    if "e" not in message and "event" not in message:
        return _parse_control_reply(message)
    return _parse_event(message)


def _parse_combined(message: Mapping[str, Any]) -> StreamMessage:
    stream, data = message.get("stream"), message.get("data")
    if not isinstance(stream, str) or not isinstance(data, dict):
        raise ExchangeProtocolError("combined frame needs a 'stream' string and a 'data' object")
    parsed = _parse_event(data)
    if isinstance(parsed, KlineUpdate) and stream_name(parsed.topic) != stream:
        raise ExchangeProtocolError(f"kline for {parsed.topic} arrived on stream {stream!r}")
    if isinstance(parsed, DepthEvent | TradeEvent | LiquidationEvent) and not stream.startswith(
        f"{parsed.symbol.lower()}@"
    ):
        raise ExchangeProtocolError(f"event for {parsed.symbol} arrived on stream {stream!r}")
    return parsed


def _parse_event(event: Mapping[str, Any]) -> StreamMessage:
    nested = event.get("event")
    if isinstance(nested, dict) and "e" not in event:
        event = nested
    kind = event.get("e")
    if kind == "kline":
        return _parse_kline_event(event)
    if kind == "depthUpdate":
        # Only futures events carry the previous final id, and only they chain by it.
        if "pu" in event:
            return parse_futures_depth_event(event)
        return parse_spot_depth_event(event)
    if kind in TRADE_EVENT_TYPES:
        return parse_trade_event(event)
    if kind == FORCE_ORDER_EVENT:
        return parse_force_order_event(event)
    if kind == "serverShutdown":
        when = event.get("E")
        return ServerShutdown(
            when if isinstance(when, int) and not isinstance(when, bool) else None
        )
    raise ExchangeProtocolError(f"unexpected event type {kind!r}")


def _parse_kline_event(event: Mapping[str, Any]) -> KlineUpdate:
    k = event.get("k")
    if not isinstance(k, dict):
        raise ExchangeProtocolError("kline event without a 'k' object")
    symbol = k.get("s", event.get("s"))
    if not isinstance(symbol, str) or not symbol:
        raise ExchangeProtocolError("kline event without a symbol")
    closed = k.get("x")
    if not isinstance(closed, bool):
        raise ExchangeProtocolError("kline event: 'x' (closed) is not a boolean")
    candle = Candle(  # positional: Candle's field order, cheaper than keywords per kline
        non_negative_int(k.get("t"), "open time"),
        _decimal(k.get("o"), "open"),
        _decimal(k.get("h"), "high"),
        _decimal(k.get("l"), "low"),
        _decimal(k.get("c"), "close"),
        _decimal(k.get("v"), "volume"),
        _decimal(k.get("q"), "quote volume"),
        non_negative_int(k.get("n"), "trade count"),
        closed,
    )
    topic = Topic(symbol.upper(), _interval(k.get("i")))
    return KlineUpdate(topic, candle, non_negative_int(event.get("E"), "event time"))


def _parse_control_reply(message: Mapping[str, Any]) -> ControlReply:
    request_id = message.get("id")
    if request_id is not None and not isinstance(request_id, int | str):
        raise ExchangeProtocolError(f"control reply with a bad id {request_id!r}")
    error = message.get("error", message)
    if isinstance(error, dict) and ("code" in error or "msg" in error):
        code = error.get("code")
        text = error.get("msg")
        return ControlReply(
            request_id,
            error_code=code if isinstance(code, int) else -1,
            error_message=str(text) if text is not None else "",
        )
    if "result" not in message:
        raise ExchangeProtocolError("control reply without 'result' or an error")
    return ControlReply(request_id, result=message["result"])


def _interval(code: object) -> Interval:
    if isinstance(code, str):
        try:
            return Interval.parse(code)
        except InvalidInterval:
            pass
    raise ExchangeProtocolError(f"unknown interval from exchange: {code!r:.20}")


_DECIMAL_TYPES: Final = frozenset({str, int, float})


def _decimal(value: object, name: str) -> float:
    # Binance sends decimals as strings; numbers are accepted for robustness. Exact types,
    # not isinstance: six of these per kline, and a bool is an int subclass anyway.
    if type(value) in _DECIMAL_TYPES:
        try:
            number = float(cast("str | int | float", value))
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise ExchangeProtocolError(f"{name} is not a finite decimal: {value!r:.50}")
