"""Client of OrderFox's optional liquidation history service (``LIQUIDATION_API_BASE_URL``).

Binance offers no public liquidation history, so OrderFox deployments may point at a
service that recorded ``@forceOrder`` for them. It is a convenience, never a dependency
(seed 004): when it is slow, down or answers nonsense, :meth:`LiquidationHistoryClient.recent`
logs one warning and returns nothing, and liquidations carry on from the live stream alone.

``GET {base}/liquidation-history/BTCUSDT?limit=50`` answers::

    {"symbol": "BTCUSDT",
     "data": [{"symbol": "BTCUSDT", "side": "SELL", "order_type": "LIMIT",
               "time_in_force": "IOC", "original_quantity": "0.014", "price": "37000.10",
               "average_price": "37010.00", "order_status": "FILLED",
               "order_last_filled_quantity": "0.014",
               "order_filled_accumulated_quantity": "0.014",
               "order_trade_time": 1700000000123}]}

or the bare ``data`` list. The liquidated amount is ``order_filled_accumulated_quantity``
(what OrderFox shows), or ``original_quantity`` when that is 0 or missing: the same rule
as the live stream (:func:`~marketcast.exchanges.binance.force_orders.liquidated_quantity`),
so both sources give one liquidation one key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import httpx

from marketcast.domain.liquidations import Liquidation
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.client import tls_context
from marketcast.exchanges.binance.force_orders import liquidated_quantity
from marketcast.resources import AsyncResource

log = logging.getLogger(__name__)

TIMEOUT_S: Final = 15.0
_SIDES: Final = ("BUY", "SELL")


def _optional_decimal(row: Mapping[str, Any], field: str) -> Decimal | None:
    return None if row.get(field) is None else _decimal(row, field)


def _decimal(row: Mapping[str, Any], field: str) -> Decimal:
    raw = row[field]
    # bool is an int: a true/false amount is garbage, not 1 or 0.
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ExchangeProtocolError(f"{field} is not a number: {raw!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as error:
        raise ExchangeProtocolError(f"{field} is not a number: {raw!r}") from error
    if not value.is_finite() or value < 0:
        raise ExchangeProtocolError(f"{field} out of range: {raw!r}")
    return value


def parse_row(symbol: str, row: object) -> Liquidation:
    """One history entry as a :class:`Liquidation` of ``symbol`` (the symbol asked for)."""
    if not isinstance(row, Mapping):
        raise ExchangeProtocolError(f"a history entry is not an object: {row!r}")
    try:
        side, time_ms = row["side"], row["order_trade_time"]
        if side not in _SIDES:
            raise ExchangeProtocolError(f"side is not BUY or SELL: {side!r}")
        if isinstance(time_ms, bool) or not isinstance(time_ms, int) or time_ms < 0:
            raise ExchangeProtocolError(f"order_trade_time is not epoch ms: {time_ms!r}")
        return Liquidation(
            symbol=symbol,
            side=side,
            quantity=liquidated_quantity(
                _optional_decimal(row, "order_filled_accumulated_quantity"),
                _optional_decimal(row, "original_quantity"),
            ),
            price=_decimal(row, "price"),
            avg_price=_decimal(row, "average_price"),
            time_ms=time_ms,
        )
    except KeyError as error:
        raise ExchangeProtocolError(f"a history entry lacks {error}") from error


def parse_history(symbol: str, payload: object) -> tuple[list[Liquidation], int]:
    """The liquidations in ``payload``, newest first, and how many entries were unusable.

    Raises:
        ExchangeProtocolError: the payload is neither ``{"data": [...]}`` nor a list.
    """
    rows = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list):
        raise ExchangeProtocolError("history is neither {'data': [...]} nor a list")
    parsed: list[Liquidation] = []
    for row in rows:
        try:
            parsed.append(parse_row(symbol, row))
        except ExchangeProtocolError:
            continue  # one bad entry should not cost the good ones
    parsed.sort(key=lambda liquidation: liquidation.time_ms, reverse=True)
    return parsed, len(rows) - len(parsed)


class LiquidationHistoryClient(AsyncResource):
    """Reads recent liquidations from the history service at ``base_url``.

    Example::

        async with LiquidationHistoryClient("https://liquidations.example.com") as client:
            newest = await client.recent("BTCUSDT")  # [] if the service is unavailable
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_s, transport=transport, verify=tls_context()
        )

    async def recent(self, symbol: str, limit: int = 50) -> list[Liquidation]:
        """Up to ``limit`` of ``symbol``'s latest liquidations, newest first; ``[]`` (and one
        warning) when the service fails in any way."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        try:
            payload = await self._fetch(symbol, limit)
            liquidations, unusable = parse_history(symbol, payload)
        except (httpx.HTTPError, ExchangeProtocolError) as error:
            log.warning(
                "liquidation history for %s unavailable, continuing with live data only: %s",
                symbol,
                str(error) or type(error).__name__,
            )
            return []
        if unusable:
            log.warning("liquidation history for %s: %d unusable entries", symbol, unusable)
        return liquidations[:limit]

    async def _fetch(self, symbol: str, limit: int) -> object:
        response = await self._http.get(f"/liquidation-history/{symbol}", params={"limit": limit})
        response.raise_for_status()
        try:
            return response.json()
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError alike
            raise ExchangeProtocolError(f"history is not JSON: {error}") from error

    async def aclose(self) -> None:
        await self._http.aclose()
