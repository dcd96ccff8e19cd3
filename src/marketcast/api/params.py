"""Query parameter validation with the clear 400s SPEC 1.5 asks for (pure)."""

from __future__ import annotations

from marketcast.api.protocol import epoch_ms
from marketcast.errors import InvalidLimit, InvalidRequest


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """``limit`` must be an integer in 1..``maximum`` (the buffer size)."""
    if raw is None or raw == "":
        return min(default, maximum)
    try:
        value = int(raw)
    except ValueError:
        raise InvalidLimit(raw, maximum) from None
    if not 1 <= value <= maximum:
        raise InvalidLimit(value, maximum)
    return value


def parse_time(raw: str | None, name: str) -> int | None:
    """An epoch in seconds or milliseconds; returns milliseconds."""
    if raw is None or raw == "":
        return None
    try:
        return epoch_ms(int(raw))
    except ValueError:
        message = f"{name} must be an integer epoch (seconds or ms), got {raw!r}"
        raise InvalidRequest(message) from None


def parse_hours(raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise InvalidRequest(f"hours must be an integer in 1..{maximum}, got {raw!r}")
    return value
