"""Binance's rolling 24-hour tickers (``GET /api/v3/ticker/24hr``): parse and fetch.

The parser is pure; :func:`fetch_tickers_24h` is the one call, made through the
weighted, retrying :class:`~marketcast.exchanges.binance.client.ThrottledClient`.
USD-M futures (``/fapi/v1/ticker/24hr``, weight 40) answer with the same fields.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final, Protocol

from marketcast.domain.market import Ticker24h
from marketcast.errors import ExchangeProtocolError

SPOT_TICKER_PATH: Final = "/api/v3/ticker/24hr"
# Binance: weight 80 for all symbols at once (2 for one, 40 for 21-100 named symbols).
ALL_TICKERS_WEIGHT: Final = 80


class JsonGetter(Protocol):
    """The weighted GET of :class:`~marketcast.exchanges.binance.client.ThrottledClient`."""

    async def get_json(self, path: str, params: dict[str, str | int], *, weight: int) -> Any: ...


async def fetch_tickers_24h(
    client: JsonGetter, *, path: str = SPOT_TICKER_PATH, weight: int = ALL_TICKERS_WEIGHT
) -> list[Ticker24h]:
    """Every symbol's 24-hour ticker in one call.

    Raises:
        ExchangeError: as :meth:`ThrottledClient.get_json` does, after its retries;
            :class:`ExchangeProtocolError` if the body is not a ticker list.
    """
    payload = await client.get_json(path, {}, weight=weight)
    return parse_tickers_24h(payload)


def parse_tickers_24h(payload: object) -> list[Ticker24h]:
    """The tickers of a ``/ticker/24hr`` answer: a list, or one object for ``?symbol=``.

    A real entry (Binance's documentation payload)::

        {"symbol": "BNBBTC", "priceChange": "-94.99999800", "priceChangePercent": "-95.960",
         "weightedAvgPrice": "0.29628482", "prevClosePrice": "0.10002000",
         "lastPrice": "4.00000200", "lastQty": "200.00000000", "bidPrice": "4.00000000",
         "bidQty": "100.00000000", "askPrice": "4.00000200", "askQty": "100.00000000",
         "openPrice": "99.00000000", "highPrice": "100.00000000", "lowPrice": "0.10000000",
         "volume": "8913.30000000", "quoteVolume": "15.30000000",
         "openTime": 1499783499040, "closeTime": 1499869899040,
         "firstId": 28385, "lastId": 28460, "count": 76}

    An entry missing one of the fields read here is left out: one odd listing (Binance
    keeps delisted symbols in this list) must not hide every other symbol's volume.

    Raises:
        ExchangeProtocolError: the payload is neither a list nor an object.
    """
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise ExchangeProtocolError(f"24h ticker response is not a list: {str(payload)[:200]}")
    found = (_ticker(entry) for entry in payload)
    return [ticker for ticker in found if ticker is not None]


def _ticker(entry: object) -> Ticker24h | None:
    if not isinstance(entry, dict):
        raise ExchangeProtocolError(f"24h ticker entry is not an object: {entry!r:.100}")
    symbol = entry.get("symbol")
    close_time = entry.get("closeTime")
    numbers = [
        _decimal(entry.get(name))
        for name in ("lastPrice", "priceChangePercent", "volume", "quoteVolume")
    ]
    if (
        not isinstance(symbol, str)
        or not symbol
        or not isinstance(close_time, int)
        or isinstance(close_time, bool)
    ):
        return None
    last, change, volume, quote_volume = numbers
    if last is None or change is None or volume is None or quote_volume is None:
        return None
    return Ticker24h(symbol, last, change, volume, quote_volume, close_time)


def _decimal(value: object) -> Decimal | None:
    # Binance sends decimals as strings; exact Decimal keeps "0.00001000" exact.
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
