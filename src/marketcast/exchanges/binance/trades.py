"""Where Binance ``trade``/``aggTrade`` events and REST aggTrades rows become :class:`Trade`.

Pure functions. The wire names (``t``, ``a``, ``p``, ``q``, ``m``, ``T``) stop here. Prices
and quantities stay exact :class:`~decimal.Decimal`. Anything that does not look like what
Binance documents raises :class:`ExchangeProtocolError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marketcast.domain.trades import Trade
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.fields import exact_decimal, non_negative_int

TRADE_EVENT_TYPES = frozenset({"trade", "aggTrade"})


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One pushed trade of ``symbol`` (upper-case); ``aggregate`` for ``@aggTrade``.

    ``trade.id`` is the trade id for ``@trade`` and the aggregate id for ``@aggTrade``;
    ``event_time`` is the exchange's push time (ms).
    """

    symbol: str
    trade: Trade
    aggregate: bool
    event_time: int


def parse_trade_event(event: object) -> TradeEvent:
    """A ``<symbol>@trade`` or ``<symbol>@aggTrade`` event (the ``data`` of a combined frame).

    From Binance's documentation (web-socket-streams.md, Trade and Aggregate Trade Streams)::

        {"e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345,
         "p": "0.001", "q": "100", "T": 1672515782136, "m": true, "M": true}

        {"e": "aggTrade", "E": 1672515782136, "s": "BNBBTC", "a": 12345,
         "p": "0.001", "q": "100", "f": 100, "l": 105, "T": 1672515782136,
         "m": true, "M": true}
    """
    if not isinstance(event, dict):
        raise ExchangeProtocolError(f"trade event is not a JSON object: {event!r:.100}")
    kind = event.get("e")
    if kind not in TRADE_EVENT_TYPES:
        raise ExchangeProtocolError(f"not a trade event: e={kind!r:.50}")
    aggregate = kind == "aggTrade"
    symbol = event.get("s")
    if not isinstance(symbol, str) or not symbol:
        raise ExchangeProtocolError("trade event without a symbol")
    return TradeEvent(
        symbol=symbol.upper(),
        trade=_trade(event, id_field="a" if aggregate else "t"),
        aggregate=aggregate,
        event_time=non_negative_int(event.get("E"), "E (event time)"),
    )


def parse_agg_trades(payload: object) -> list[Trade]:
    """The body of ``GET /api/v3/aggTrades`` (spot) or ``GET /fapi/v1/aggTrades`` (USD-M).

    Both markets answer with a list of rows in ascending aggregate id, shaped as
    documented (``f``/``l`` are the first and last plain trade ids, ``M`` is spot only)::

        [{"a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27781,
          "T": 1498793709153, "m": true, "M": true}]

    Raises:
        ExchangeProtocolError: not a list of such rows, or ids not strictly ascending
            (a tape gap check built on them would otherwise go wrong silently).
    """
    if not isinstance(payload, list):
        raise ExchangeProtocolError(f"aggTrades response is not a list: {payload!r:.200}")
    trades = [_trade(_row(row), id_field="a") for row in payload]
    for earlier, later in itertools.pairwise(trades):
        if later.id <= earlier.id:
            raise ExchangeProtocolError(
                f"aggTrades ids are not ascending: {earlier.id} then {later.id}"
            )
    return trades


def _row(row: object) -> Mapping[str, Any]:
    if not isinstance(row, dict):
        raise ExchangeProtocolError(f"aggTrades row is not a JSON object: {row!r:.100}")
    return row


def _trade(event: Mapping[str, Any], *, id_field: str) -> Trade:
    buyer_is_maker = event.get("m")
    if not isinstance(buyer_is_maker, bool):
        raise ExchangeProtocolError("trade event: 'm' (buyer is maker) is not a boolean")
    price = exact_decimal(event.get("p"), "p (price)")
    quantity = exact_decimal(event.get("q"), "q (quantity)")
    if price <= 0 or quantity < 0:
        raise ExchangeProtocolError(f"trade out of range: price {price}, quantity {quantity}")
    return Trade(
        id=non_negative_int(event.get(id_field), f"{id_field} (trade id)"),
        price=price,
        quantity=quantity,
        buyer_is_maker=buyer_is_maker,
        time_ms=non_negative_int(event.get("T"), "T (trade time)"),
    )
