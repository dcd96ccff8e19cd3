"""REST query parameters, validated the way Binance spot and USD-M futures do, with their
error codes, and the request weights that depend on them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

import orjson

from marketcast.domain.intervals import Interval
from marketcast.errors import InvalidInterval, InvalidRequest
from marketcast.exchanges.sim.truth.tradelog import AggTradesQuery

MAX_KLINES_LIMIT: Final = 1000
DEFAULT_KLINES_LIMIT: Final = 500
TRADES_LIMITS: Final = (500, 1000)
"""(default, most) of ``/trades`` and ``/aggTrades``."""
DEPTH_LIMITS: Final = (100, 5000)
AGG_WINDOW_MS: Final = 3_600_000
FUTURES_MAX_KLINES_LIMIT: Final = 1500
FUTURES_DEPTH_LIMITS: Final = (5, 10, 20, 50, 100, 500, 1000)
FUTURES_DEFAULT_DEPTH: Final = 500


class ApiError(InvalidRequest):
    """A request Binance would refuse: HTTP ``status`` with body ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        self.status = status
        self.api_code = code
        self.msg = msg
        super().__init__(f"HTTP {status} {code}: {msg}")


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


@dataclass(frozen=True, slots=True)
class KlinesQuery:
    """A validated ``GET /api/v3/klines``."""

    symbol: str
    interval: Interval
    limit: int
    start_ms: int | None
    end_ms: int | None


def parse_klines(
    params: Mapping[str, str],
    listed: Collection[str],
    *,
    max_limit: int = MAX_KLINES_LIMIT,
    futures: bool = False,
) -> KlinesQuery:
    """Validate ``symbol``, ``interval`` (case-sensitive), ``limit``, ``startTime`` and
    ``endTime`` in Binance's order, raising :class:`ApiError` with its codes (``futures``
    has no ``1s`` interval)."""
    symbol = _required(params, "symbol")
    if symbol not in listed:
        raise invalid_symbol()
    code = _required(params, "interval")
    try:
        interval = Interval.parse(code)
    except InvalidInterval:
        raise ApiError(-1120, "Invalid interval.") from None
    if futures and code == "1s":
        raise ApiError(-1120, "Invalid interval.")
    limit = _integer(params, "limit")
    if limit is None:
        limit = DEFAULT_KLINES_LIMIT
    elif not 1 <= limit <= max_limit:
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    start, end = _integer(params, "startTime"), _integer(params, "endTime")
    if start is not None and end is not None and start > end:
        raise ApiError(-1023, "Start time is greater than end time.")
    return KlinesQuery(symbol, interval, limit, start, end)


def parse_limited(
    params: Mapping[str, str],
    listed: Collection[str],
    bounds: tuple[int, int],
    *,
    truncate: bool = False,
) -> tuple[str, int]:
    """``symbol`` and ``limit`` (``bounds`` = default, most). A limit above the most is
    an error, or with ``truncate`` cut to it (``/depth`` returns 5000 for any more)."""
    default, most = bounds
    symbol = _required(params, "symbol")
    if symbol not in listed:
        raise invalid_symbol()
    limit = _integer(params, "limit")
    if limit is None:
        return symbol, default
    if limit < 1 or (limit > most and not truncate):
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return symbol, min(limit, most)


def parse_agg_trades(params: Mapping[str, str], listed: Collection[str]) -> AggTradesQuery:
    """``/aggTrades``: ``startTime`` and ``endTime`` together must span under an hour."""
    symbol, limit = parse_limited(params, listed, TRADES_LIMITS)
    from_id = _integer(params, "fromId")
    start, end = _integer(params, "startTime"), _integer(params, "endTime")
    if start is not None and end is not None:
        if start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        if end - start >= AGG_WINDOW_MS:
            raise ApiError(-1127, "More than 1 hours between startTime and endTime.")
    return AggTradesQuery(symbol, limit, from_id, start, end)


def depth_weight(limit: int) -> int:
    """Binance's ``/depth`` weight bands."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    return 50 if limit <= 1000 else 250


def parse_futures_depth(params: Mapping[str, str], listed: Collection[str]) -> tuple[str, int]:
    """``/fapi/v1/depth``: ``limit`` is one of :data:`FUTURES_DEPTH_LIMITS` (500 if unsent)."""
    symbol, limit = parse_limited(params, listed, (FUTURES_DEFAULT_DEPTH, FUTURES_DEPTH_LIMITS[-1]))
    if limit not in FUTURES_DEPTH_LIMITS:
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return symbol, limit


def futures_depth_weight(limit: int) -> int:
    """USD-M ``/depth`` weight: 2 up to 50 levels, then 5, 10 and 20."""
    if limit <= 50:
        return 2
    return {100: 5, 500: 10}.get(limit, 20)


def futures_klines_weight(limit: int) -> int:
    """USD-M ``/klines`` weight by ``limit``: 1 below 100, 2 below 500, 5 up to 1000, else 10."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    return 5 if limit <= 1000 else 10


def parse_symbols(params: Mapping[str, str], listed: Collection[str]) -> tuple[str, ...] | None:
    """``symbol=`` or ``symbols=["A","B"]`` as a tuple; ``None`` when neither is sent."""
    if "symbol" in params:
        symbol = _required(params, "symbol")
        if symbol not in listed:
            raise invalid_symbol()
        return (symbol,)
    if "symbols" not in params:
        return None
    try:
        names = orjson.loads(params["symbols"])
    except orjson.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.")
    if any(name not in listed for name in names):
        raise invalid_symbol()
    return tuple(names)


def ticker_weight(symbols: tuple[str, ...] | None) -> int:
    """Binance's weight for ``/ticker/24hr``: 2 per symbol in bands, 80 for all."""
    if symbols is None or len(symbols) > 100:
        return 80
    return 2 if len(symbols) <= 20 else 40


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise ApiError(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def _integer(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        )
    return int(raw)
