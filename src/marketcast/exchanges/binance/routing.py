"""What each market carries and at which URL: stream kinds, routed bases, kline intervals.

Pure. USD-M futures serve their streams under routes (``/market`` for klines, aggTrades
and liquidations, ``/public`` for depth): a stream subscribed on the wrong route is
accepted and then never delivers, so a stream client is opened per route with
:func:`stream_base`, and :func:`check_stream_for_market` refuses a stream the route or
market does not carry before anything is subscribed.
"""

from __future__ import annotations

from typing import Final

from marketcast.domain.intervals import INTERVAL_CODES, Interval
from marketcast.errors import InvalidInterval, InvalidRequest
from marketcast.exchanges.binance.markets import MarketSpec, StreamKind
from marketcast.exchanges.binance.parse import check_market_stream

_KINDS: Final[dict[str, StreamKind]] = {
    "depth": "depth",
    "trade": "trade",
    "aggTrade": "aggTrade",
    "forceOrder": "forceOrder",
}
# Diff-depth update speeds each market offers beyond its plain ``@depth``.
_DEPTH_SPEEDS: Final = {"spot": frozenset({"100ms"}), "usdm": frozenset({"100ms", "500ms"})}


def stream_base(ws_base: str, market: MarketSpec, kind: StreamKind) -> str:
    """The base URL whose ``/stream`` carries ``kind`` streams: ``ws_base`` plus the route.

    ``stream_base("wss://fstream.binance.com", USDM, "depth")`` is
    ``"wss://fstream.binance.com/public"``; on spot every kind is at ``ws_base`` itself.

    Raises:
        ValueError: the market has no ``kind`` streams (USD-M has no ``@trade``).
    """
    return ws_base.rstrip("/") + market.route(kind)


def stream_kind(name: str) -> StreamKind:
    """The kind of a stream name: ``btcusdt@kline_1m`` -> ``"kline"``, ``btcusdt@depth@100ms``
    -> ``"depth"``, ``btcusdt@forceOrder`` -> ``"forceOrder"``.

    Raises:
        InvalidRequest: not a kline stream nor a raw market stream we carry.
    """
    _, _, rest = name.partition("@")
    if rest.startswith("kline_"):
        return "kline"
    check_market_stream(name)
    return _KINDS[rest.partition("@")[0]]


def check_stream_for_market(name: str, market: MarketSpec) -> str:
    """``name`` if ``market`` has that stream, otherwise :class:`InvalidRequest`.

    Spot has no ``@forceOrder`` and no 250/500 ms depth; USD-M has no raw ``@trade``.
    """
    kind = stream_kind(name)
    try:
        market.route(kind)
    except ValueError:
        raise InvalidRequest(f"the {market.name} market has no {kind} streams: {name!r}") from None
    _, _, speed = name.partition("@depth@")
    if speed and speed not in _DEPTH_SPEEDS[market.name]:
        offered = ", ".join(sorted(_DEPTH_SPEEDS[market.name]))
        raise InvalidRequest(
            f"the {market.name} market has no {speed} depth stream: {name!r}; "
            f"plain @depth or @depth@{{{offered}}}"
        )
    return name


def check_kline_interval(market: MarketSpec, interval: Interval) -> Interval:
    """``interval`` if ``market`` has klines of it; USD-M futures have no ``1s`` klines.

    Raises:
        InvalidInterval: listing the intervals the market does have.
    """
    if interval.code == "1s" and not market.has_1s:
        valid = [code for code in INTERVAL_CODES if code != "1s"]
        raise InvalidInterval(interval.code, valid)
    return interval
