"""How a :class:`MarketcastError` looks on the wire: one mapping for REST, one for WS."""

from __future__ import annotations

import math
from typing import Any

from marketcast.domain.signals import NotEnoughData
from marketcast.errors import (
    BeforeHistory,
    CapacityExceeded,
    HistoryBusy,
    InvalidInterval,
    InvalidRequest,
    MarketcastError,
    UnknownSymbol,
)

CLOSE_UNKNOWN_SYMBOL = 4000


class ProtocolError(InvalidRequest):
    """A client message or query parameter the node refuses; ``code`` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def error_details(error: MarketcastError) -> dict[str, Any]:
    """Machine-readable extras a client can act on (suggestions, valid values)."""
    if isinstance(error, UnknownSymbol):
        return {"suggestions": list(error.suggestions)}
    if isinstance(error, InvalidInterval):
        return {"valid_intervals": list(error.valid)}
    if isinstance(error, BeforeHistory):
        return {"first_time": error.first_open_ms // 1000}
    if isinstance(error, HistoryBusy):
        return {"retry_after": max(1, math.ceil(error.retry_after))}
    return {}


def error_code(error: MarketcastError) -> str:
    return str(getattr(error, "code", "error"))


def http_status(error: MarketcastError) -> int:
    if isinstance(error, UnknownSymbol | NotEnoughData):
        return 404
    if isinstance(error, InvalidRequest):
        return 400
    if isinstance(error, CapacityExceeded):
        return 429
    return 503  # NotReady, exchange trouble: retry later


def retry_after_header(error: MarketcastError) -> dict[str, str] | None:
    """``Retry-After`` (whole seconds, at least 1) for an error that knows when to retry."""
    if isinstance(error, HistoryBusy):
        return {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
    return None


def http_body(error: MarketcastError) -> dict[str, Any]:
    status = http_status(error)
    return {"detail": str(error), "status_code": status, "code": error_code(error)} | (
        error_details(error)
    )
