"""Validating single fields of Binance payloads, shared by every parser in the adapter."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marketcast.errors import ExchangeProtocolError


def non_negative_int(value: object, name: str) -> int:
    """An id, time or count. ``bool`` is an int subclass, but a JSON true is never one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ExchangeProtocolError(f"{name} is not a non-negative integer: {value!r:.50}")


def exact_decimal(value: object, name: str) -> Decimal:
    """A price or quantity kept exact: Binance sends decimals as strings, and a float
    would already have lost exactness."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            number = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number
    raise ExchangeProtocolError(f"{name} is not a finite decimal string: {value!r:.50}")
