"""REST query parameters, validated the way Binance spot does, with its error codes."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

import orjson

from marketcast.domain.intervals import Interval
from marketcast.errors import InvalidInterval, InvalidRequest

MAX_KLINES_LIMIT: Final = 1000
DEFAULT_KLINES_LIMIT: Final = 500


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


def parse_klines(params: Mapping[str, str], listed: Collection[str]) -> KlinesQuery:
    """Validate ``symbol``, ``interval`` (case-sensitive), ``limit``, ``startTime`` and
    ``endTime`` in Binance's order, raising :class:`ApiError` with its codes."""
    symbol = _required(params, "symbol")
    if symbol not in listed:
        raise invalid_symbol()
    try:
        interval = Interval.parse(_required(params, "interval"))
    except InvalidInterval:
        raise ApiError(-1120, "Invalid interval.") from None
    limit = _integer(params, "limit")
    if limit is None:
        limit = DEFAULT_KLINES_LIMIT
    elif not 1 <= limit <= MAX_KLINES_LIMIT:
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    start, end = _integer(params, "startTime"), _integer(params, "endTime")
    if start is not None and end is not None and start > end:
        raise ApiError(-1023, "Start time is greater than end time.")
    return KlinesQuery(symbol, interval, limit, start, end)


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
