"""Query parameter validation, each refusal a clear 400 naming what is allowed (pure)."""

from __future__ import annotations

from typing import Any, Final

from marketcast.errors import InvalidLimit, InvalidRequest

# Anything this large is a millisecond epoch: 1e11 s lies in the year 5138.
_MS_THRESHOLD: Final = 100_000_000_000


def epoch_ms(value: int) -> int:
    """Accept seconds or milliseconds; return milliseconds."""
    return value if abs(value) >= _MS_THRESHOLD else value * 1000


def natural(raw: str) -> int | None:
    """``raw`` as a non-negative integer if it is plain ASCII digits, else ``None``.

    ``int()`` alone is too lenient for a query: it takes ``1_0``, ``+5``, `` 7 `` and
    non-ASCII digits, and a minus sign makes no sense for a count, an epoch or an id.
    """
    return int(raw) if raw.isascii() and raw.isdigit() else None


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """``limit`` must be an integer in 1..``maximum`` (the buffer size)."""
    if raw is None or raw == "":
        return min(default, maximum)
    value = natural(raw)
    if value is None:
        raise InvalidLimit(raw, maximum)
    if not 1 <= value <= maximum:
        raise InvalidLimit(value, maximum)
    return value


def parse_time(raw: str | None, name: str) -> int | None:
    """An epoch in seconds or milliseconds (digits only); returns milliseconds."""
    if raw is None or raw == "":
        return None
    value = natural(raw)
    if value is None:
        message = f"{name} must be a non-negative integer epoch (seconds or ms), got {raw!r}"
        raise InvalidRequest(message)
    return epoch_ms(value)


def parse_hours(raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    value = natural(raw) or 0
    if not 1 <= value <= maximum:
        raise InvalidRequest(f"hours must be an integer in 1..{maximum}, got {raw!r}")
    return value


def query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    """One OpenAPI query parameter (routes read theirs from ``request.query_params`` to
    refuse bad values with the error codes above, so FastAPI cannot see them)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def documented(*parameters: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring a route's query parameters."""
    return {"parameters": list(parameters)}


LIMIT_DOC = "how many, at least 1 (the route's maximum is in the 400 it answers past it)"
TIME_DOC = "an epoch in seconds or milliseconds"
MARKET_PARAMETER = query(
    "market",
    "spot or usdm; default the node's --market. A ccxt unified symbol names it too "
    "(BTC/USDT is spot, BTC/USDT:USDT the USD-M perpetual)",
    type="string",
    enum=["spot", "usdm"],
)
