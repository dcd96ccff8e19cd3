"""Where Binance depth payloads become order-book values: REST snapshots and diff events.

Pure functions. The wire names (``lastUpdateId``, ``U``, ``u``, ``pu``, ``b``, ``a``) stop
here; the rest of marketcast sees :class:`BookSnapshot` and :class:`BookDiff`. Prices and
quantities stay exact :class:`~decimal.Decimal`. Anything that does not look like what
Binance documents raises :class:`ExchangeProtocolError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marketcast.domain.book_side import Level
from marketcast.domain.orderbook import BookDiff, BookSnapshot
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.fields import exact_decimal, non_negative_int

_DEPTH_EVENT = "depthUpdate"


@dataclass(frozen=True, slots=True)
class DepthEvent:
    """One diff event of ``symbol``'s book (upper-case symbol, as Binance sends it)."""

    symbol: str
    diff: BookDiff


def parse_depth_snapshot(payload: object) -> BookSnapshot:
    """The body of ``GET /api/v3/depth`` (spot) or ``GET /fapi/v1/depth`` (USD-M futures).

    Spot, from Binance's documentation::

        {"lastUpdateId": 1027024,
         "bids": [["4.00000000", "431.00000000"]],
         "asks": [["4.00000200", "12.00000000"]]}

    USD-M futures add the message time ``E`` (kept as the snapshot's event time) and the
    transaction time ``T``::

        {"lastUpdateId": 1027024, "E": 1589436922972, "T": 1589436922959,
         "bids": [["4.00000000", "431.00000000"]],
         "asks": [["4.00000200", "12.00000000"]]}
    """
    body = _object(payload, "depth snapshot")
    event_time = body.get("E")
    return BookSnapshot(
        last_update=non_negative_int(body.get("lastUpdateId"), "lastUpdateId"),
        bids=_levels(body.get("bids"), "bids"),
        asks=_levels(body.get("asks"), "asks"),
        event_time=None if event_time is None else non_negative_int(event_time, "E (event time)"),
    )


def parse_spot_depth_event(event: object) -> DepthEvent:
    """A spot ``<symbol>@depth`` event (the ``data`` of a combined frame).

    From Binance's documentation (web-socket-streams.md, Diff. Depth Stream)::

        {"e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC",
         "U": 157, "u": 160,
         "b": [["0.0024", "10"]],
         "a": [["0.0026", "100"]]}
    """
    body, symbol, first, final = _event_header(event)
    return DepthEvent(symbol, _diff(body, first, final, previous_final=None))


def parse_futures_depth_event(event: object) -> DepthEvent:
    """A USD-M futures ``<symbol>@depth`` event; it must carry ``pu`` (the previous ``u``).

    From Binance's documentation (USD-M futures, Diff. Book Depth Streams)::

        {"e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BTCUSDT",
         "U": 157, "u": 160, "pu": 149,
         "b": [["0.0024", "10"]],
         "a": [["0.0026", "100"]]}
    """
    body, symbol, first, final = _event_header(event)
    previous = body.get("pu")
    if isinstance(previous, bool) or not isinstance(previous, int):
        raise ExchangeProtocolError(f"futures depth event: pu is not an integer: {previous!r:.50}")
    return DepthEvent(symbol, _diff(body, first, final, previous_final=previous))


def _event_header(event: object) -> tuple[Mapping[str, Any], str, int, int]:
    body = _object(event, "depth event")
    if body.get("e") != _DEPTH_EVENT:
        raise ExchangeProtocolError(f"not a depthUpdate event: e={body.get('e')!r:.50}")
    symbol = body.get("s")
    if not isinstance(symbol, str) or not symbol:
        raise ExchangeProtocolError("depth event without a symbol")
    first = non_negative_int(body.get("U"), "U (first update id)")
    final = non_negative_int(body.get("u"), "u (final update id)")
    if first > final:
        raise ExchangeProtocolError(f"depth event covers no updates: U={first} > u={final}")
    return body, symbol.upper(), first, final


def _diff(
    body: Mapping[str, Any], first: int, final: int, *, previous_final: int | None
) -> BookDiff:
    return BookDiff(
        first_update=first,
        final_update=final,
        previous_final=previous_final,
        bids=_levels(body.get("b"), "b (bids)"),
        asks=_levels(body.get("a"), "a (asks)"),
        event_time=non_negative_int(body.get("E"), "E (event time)"),
    )


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ExchangeProtocolError(f"{what} is not a JSON object: {value!r:.100}")
    return value


def _levels(value: object, name: str) -> tuple[Level, ...]:
    if not isinstance(value, list):
        raise ExchangeProtocolError(f"{name} is not a list of [price, quantity] pairs")
    return tuple(_level(entry, name) for entry in value)


def _level(entry: object, name: str) -> Level:
    # Old spot payloads carried a third, ignored element; only the first two matter.
    if not isinstance(entry, list) or len(entry) < 2:
        raise ExchangeProtocolError(f"{name} entry is not a [price, quantity] pair: {entry!r:.60}")
    price = exact_decimal(entry[0], f"{name} price")
    quantity = exact_decimal(entry[1], f"{name} quantity")
    if price <= 0 or quantity < 0:
        raise ExchangeProtocolError(f"{name} level out of range: {entry!r:.60}")
    return price, quantity
