"""Binance stream names and the live-control requests a client sends on a stream socket.

Each market has its own names: spot has ``@trade`` and ``@depth`` every 1000 ms; USD-M
futures has no ``@trade`` and no ``1s`` klines, adds ``@forceOrder``, and its ``@depth``
pushes every 250 ms. :func:`route_of` says which futures path (``/market``, ``/public``)
delivers a stream.

``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY`` and
``GET_PROPERTY`` are handled here as pure state transitions: text in, reply and new
session state out. Replies follow Binance: ``{"result": null, "id": 1}`` on success and
``{"error": {"code": 2, "msg": "Invalid request: ..."}, "id": 1}`` on a bad request
(code 3 for text that is not JSON, 0 and 1 for property errors).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import orjson

from marketcast.domain.intervals import Interval
from marketcast.errors import InvalidInterval, InvalidRequest
from marketcast.exchanges.sim.wire.spot import Json

METHODS: Final = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_ID_MAX: Final = (1 << 63) - 1
_ID_MAX_TEXT: Final = 36


class StreamRequestError(InvalidRequest):
    """A control request Binance would answer with ``{"error": {"code", "msg"}}``."""

    def __init__(self, code: int, msg: str) -> None:
        self.error_code = code
        self.msg = msg
        super().__init__(msg)


@dataclass(frozen=True, slots=True)
class KlineStream:
    """``<symbol lowercase>@kline_<interval>``; the interval code is case-sensitive."""

    symbol: str
    interval: Interval

    @property
    def name(self) -> str:
        return f"{self.symbol.lower()}@kline_{self.interval.code}"


@dataclass(frozen=True, slots=True)
class TradeStream:
    """``<symbol>@trade`` (``aggregate`` false) or ``<symbol>@aggTrade``."""

    symbol: str
    aggregate: bool

    @property
    def name(self) -> str:
        return f"{self.symbol.lower()}@{'aggTrade' if self.aggregate else 'trade'}"


@dataclass(frozen=True, slots=True)
class DepthStream:
    """``<symbol>@<kind>``: a diff depth stream pushing every ``cadence_ms``; ``kind`` is
    the name as subscribed (``depth``, ``depth@100ms``...)."""

    symbol: str
    cadence_ms: int
    kind: str = "depth"

    @property
    def name(self) -> str:
        return f"{self.symbol.lower()}@{self.kind}"


@dataclass(frozen=True, slots=True)
class ForceOrderStream:
    """``<symbol>@forceOrder`` (USD-M futures): at most one liquidation per second."""

    symbol: str

    @property
    def name(self) -> str:
        return f"{self.symbol.lower()}@forceOrder"


Stream = KlineStream | TradeStream | DepthStream | ForceOrderStream
Market = Literal["spot", "usdm"]
MarketStream = TradeStream | DepthStream | ForceOrderStream

_MARKET_KINDS: Final[dict[Market, dict[str, MarketStream]]] = {
    "spot": {
        "trade": TradeStream("", aggregate=False),
        "aggTrade": TradeStream("", aggregate=True),
        "depth": DepthStream("", 1000),
        "depth@1000ms": DepthStream("", 1000, "depth@1000ms"),
        "depth@100ms": DepthStream("", 100, "depth@100ms"),
    },
    # USD-M has no public @trade stream; its @depth pushes every 250 ms.
    "usdm": {
        "aggTrade": TradeStream("", aggregate=True),
        "forceOrder": ForceOrderStream(""),
        "depth": DepthStream("", 250),
        "depth@250ms": DepthStream("", 250, "depth@250ms"),
        "depth@500ms": DepthStream("", 500, "depth@500ms"),
        "depth@100ms": DepthStream("", 100, "depth@100ms"),
    },
}


def route_of(stream: Stream, market: Market) -> str:
    """The path prefix that delivers ``stream``: spot has one (``""``); USD-M sends
    depth on ``/public`` and everything else on ``/market``."""
    if market == "spot":
        return ""
    return "/public" if isinstance(stream, DepthStream) else "/market"


def parse_stream(name: object, listed: Collection[str], market: Market = "spot") -> Stream:
    """The stream called ``name`` on ``market``, or raise :class:`StreamRequestError`."""
    if not isinstance(name, str):
        raise StreamRequestError(2, "Invalid request: stream names must be strings")
    symbol, at, kind = name.partition("@")
    if not at or not symbol or symbol != symbol.lower():
        raise StreamRequestError(2, f"Invalid request: unsupported stream name '{name}'")
    kinds = _MARKET_KINDS[market]
    if kind.startswith("kline_"):
        stream: Stream = _kline_stream(name, symbol, kind.removeprefix("kline_"), market)
    elif kind in kinds:
        stream = replace(kinds[kind], symbol=symbol.upper())
    else:
        raise StreamRequestError(2, f"Invalid request: unsupported stream name '{name}'")
    if stream.symbol not in listed:
        raise StreamRequestError(2, f"Invalid request: unknown symbol in stream '{name}'")
    return stream


def _kline_stream(name: str, symbol: str, code: str, market: Market) -> KlineStream:
    try:
        interval: Interval | None = Interval.parse(code)
    except InvalidInterval:
        interval = None
    if interval is None or (market == "usdm" and interval.code == "1s"):  # no 1s on futures
        raise StreamRequestError(2, f"Invalid request: invalid interval in stream '{name}'")
    return KlineStream(symbol.upper(), interval)


@dataclass(frozen=True, slots=True)
class SessionState:
    """What one connection listens to, in subscription order, and how it is framed."""

    streams: tuple[Stream, ...] = ()
    combined: bool = False


@dataclass(frozen=True, slots=True)
class ControlOutcome:
    reply: Json
    state: SessionState


def handle_control(
    text: str,
    state: SessionState,
    listed: Collection[str],
    max_streams: int,
    market: Market = "spot",
) -> ControlOutcome:
    """Apply one client message to ``state`` (stream names of ``market``); errors leave
    the state unchanged."""
    request_id: Any = None
    try:
        request = _decode(text)
        request_id = _request_id(request)
        method = _method(request)
        params = request.get("params")
        result, state = _apply(method, params, state, (listed, market), max_streams)
    except StreamRequestError as error:
        reply: Json = {"error": {"code": error.error_code, "msg": error.msg}, "id": request_id}
        return ControlOutcome(reply, state)
    return ControlOutcome({"result": result, "id": request_id}, state)


def _apply(
    method: str,
    params: object,
    state: SessionState,
    venue: tuple[Collection[str], Market],
    max_streams: int,
) -> tuple[Any, SessionState]:
    if method == "LIST_SUBSCRIPTIONS":
        return [s.name for s in state.streams], state
    if method == "GET_PROPERTY":
        _property_name(params, expected_len=1)
        return state.combined, state
    if method == "SET_PROPERTY":
        value = _property_name(params, expected_len=2)
        if not isinstance(value, bool):
            raise StreamRequestError(1, "Invalid value type: expected Boolean")
        return None, replace(state, combined=value)
    listed, market = venue
    streams = [parse_stream(name, listed, market) for name in _stream_names(params)]
    if method == "SUBSCRIBE":
        added = [s for s in dict.fromkeys(streams) if s not in state.streams]
        if len(state.streams) + len(added) > max_streams:
            raise StreamRequestError(
                2, f"Invalid request: too many streams, at most {max_streams} per connection"
            )
        return None, replace(state, streams=state.streams + tuple(added))
    kept = tuple(s for s in state.streams if s not in streams)
    return None, replace(state, streams=kept)


def _decode(text: str) -> dict[str, Any]:
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise StreamRequestError(
            3, f"Invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(request, dict):
        raise StreamRequestError(2, "Invalid request: expected a JSON object")
    return request


def _request_id(request: dict[str, Any]) -> Any:
    request_id = request.get("id")
    valid = (
        request_id is None
        or (type(request_id) is int and -_ID_MAX - 1 <= request_id <= _ID_MAX)
        or (
            isinstance(request_id, str) and request_id.isalnum() and len(request_id) <= _ID_MAX_TEXT
        )
    )
    if not valid:
        raise StreamRequestError(2, "Invalid request: request ID must be an unsigned integer")
    return request_id


def _method(request: dict[str, Any]) -> str:
    if "method" not in request:
        raise StreamRequestError(2, "Invalid request: missing field `method`")
    method = request["method"]
    if method not in METHODS:
        expected = ", ".join(f"`{m}`" for m in METHODS)
        raise StreamRequestError(
            2, f"Invalid request: unknown variant `{method}`, expected one of {expected}"
        )
    return str(method)


def _stream_names(params: object) -> list[object]:
    if not isinstance(params, list):
        raise StreamRequestError(2, "Invalid request: params must be a list of stream names")
    return params


def _property_name(params: object, expected_len: int) -> object:
    """Check ``["combined", ...]`` and return its second element (if any)."""
    if not isinstance(params, list) or len(params) > expected_len:
        raise StreamRequestError(2, "Invalid request: too many parameters")
    if len(params) < expected_len or not isinstance(params[0], str):
        raise StreamRequestError(2, "Invalid request: property name must be a string")
    if params[0] != "combined":
        raise StreamRequestError(0, "Unknown property")
    return params[-1]
