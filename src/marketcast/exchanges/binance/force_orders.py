"""Where a USD-M futures ``<symbol>@forceOrder`` event becomes a :class:`LiquidationEvent`.

Pure. The wire names (``o``, ``S``, ``q``, ``z``, ``ap``, ``T``...) stop here. Binance
pushes at most the latest liquidation order per symbol per second, so every event is a
sample, never the complete record.

Which quantity counts: ``z`` (the order's filled accumulated quantity) is what was
actually liquidated, and OrderFox reads that field too. A liquidation order is an IOC
order and Binance's example events are ``FILLED`` with ``z == q``; an event whose ``z``
is 0 (or missing) describes an order that has not filled yet, and then the original
quantity ``q`` is the best statement of what is being liquidated. Its ``ap`` is 0 then
as well, which :attr:`Liquidation.quote_value` already answers with the order price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from marketcast.domain.liquidations import Liquidation, OrderSide
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.fields import exact_decimal, non_negative_int
from marketcast.exchanges.binance.messages import LiquidationEvent

FORCE_ORDER_EVENT: Final = "forceOrder"
_SIDES: Final[dict[object, OrderSide]] = {"BUY": "BUY", "SELL": "SELL"}


def parse_force_order_event(event: object) -> LiquidationEvent:
    """A ``<symbol>@forceOrder`` event (the ``data`` of a combined frame).

    Shaped as Binance documents it (USD-M futures, Liquidation Order Streams)::

        {"e": "forceOrder", "E": 1568014460893,
         "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC",
               "q": "0.014", "p": "9910", "ap": "9910", "X": "FILLED",
               "l": "0.014", "z": "0.014", "T": 1568014460893}}

    Raises:
        ExchangeProtocolError: the event does not look like that.
    """
    if not isinstance(event, dict) or event.get("e") != FORCE_ORDER_EVENT:
        raise ExchangeProtocolError(f"not a forceOrder event: {event!r:.100}")
    order = event.get("o")
    if not isinstance(order, dict):
        raise ExchangeProtocolError("forceOrder event without an 'o' (order) object")
    liquidation = _liquidation(order)
    return LiquidationEvent(
        symbol=liquidation.symbol,
        liquidation=liquidation,
        event_time=non_negative_int(event.get("E"), "E (event time)"),
    )


def _liquidation(order: Mapping[str, Any]) -> Liquidation:
    symbol = order.get("s")
    if not isinstance(symbol, str) or not symbol:
        raise ExchangeProtocolError("forceOrder event without a symbol")
    side = _SIDES.get(order.get("S"))
    if side is None:
        raise ExchangeProtocolError(f"forceOrder side is not BUY or SELL: {order.get('S')!r:.20}")
    price = _non_negative(order.get("p"), "p (price)")
    avg_price = _non_negative(order.get("ap"), "ap (average price)")
    if price == 0 and avg_price == 0:
        raise ExchangeProtocolError("forceOrder event without any price")
    return Liquidation(
        symbol=symbol.upper(),
        side=side,
        quantity=_quantity(order),
        price=price,
        avg_price=avg_price,
        time_ms=non_negative_int(order.get("T"), "T (trade time)"),
    )


def liquidated_quantity(filled: Decimal | None, original: Decimal | None) -> Decimal:
    """What a liquidation order liquidated: its filled quantity if above 0, else its original.

    The one rule for every source (``@forceOrder`` here, the history service in
    :mod:`marketcast.exchanges.liquidation_api`): the quantity is part of a liquidation's
    key, so two sources describing the same order must agree on it, or it counts twice.

    Raises:
        ExchangeProtocolError: neither quantity is above 0 (nothing to count in a bucket).
    """
    if filled is not None and filled > 0:
        return filled
    if original is not None and original > 0:
        return original
    raise ExchangeProtocolError("a liquidation order with no quantity (filled nor original)")


def _quantity(order: Mapping[str, Any]) -> Decimal:
    filled, original = order.get("z"), order.get("q")
    return liquidated_quantity(
        None if filled is None else _non_negative(filled, "z (filled accumulated quantity)"),
        None if original is None else _non_negative(original, "q (original quantity)"),
    )


def _non_negative(value: object, name: str) -> Decimal:
    number = exact_decimal(value, name)
    if number < 0:
        raise ExchangeProtocolError(f"{name} is negative: {value!r:.50}")
    return number
