"""Where ``GET .../exchangeInfo`` becomes the listings marketcast knows: :class:`SymbolInfo`.

Pure. Spot lists every symbol with its status; USD-M futures list contracts of several
kinds, of which marketcast carries only perpetuals that are trading (quarterly contracts
expire, and a settling or delisted contract has no live book, trades or liquidations).
"""

from __future__ import annotations

from typing import Any, Final

from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.messages import SymbolInfo

_PERPETUAL: Final = "PERPETUAL"
_TRADING: Final = "TRADING"


def parse_exchange_info(payload: object) -> list[SymbolInfo]:
    """The symbols of ``GET /api/v3/exchangeInfo``, with tick and step size.

    A symbol entry, trimmed to the fields read here (shaped as documented)::

        {"symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH",
         "quoteAsset": "BTC",
         "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.00000100",
                      "maxPrice": "100000.00000000", "tickSize": "0.00000100"},
                     {"filterType": "LOT_SIZE", "minQty": "0.00100000",
                      "maxQty": "100000.00000000", "stepSize": "0.00100000"}]}

    A listing without a PRICE_FILTER or LOT_SIZE filter is left out: it cannot be
    formatted, and one odd listing must not make the whole exchange unusable.

    Raises:
        ExchangeProtocolError: no ``symbols`` list, or an entry that is not an object.
    """
    found = (_symbol_info(entry) for entry in _symbols(payload))
    return [info for info in found if info is not None]


def parse_futures_exchange_info(payload: object) -> list[SymbolInfo]:
    """The trading perpetual contracts of ``GET /fapi/v1/exchangeInfo``.

    Entries carry the spot fields plus the contract's kind (trimmed)::

        {"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
         "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
         "marginAsset": "USDT",
         "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.10", ...},
                     {"filterType": "LOT_SIZE", "stepSize": "0.001", ...}]}

    Quarterly contracts (``CURRENT_QUARTER``...), and perpetuals not ``TRADING``
    (``PENDING_TRADING``, ``SETTLING``, ``CLOSE``...), are left out.

    Raises:
        ExchangeProtocolError: as :func:`parse_exchange_info`.
    """
    found = (
        _symbol_info(entry)
        for entry in _symbols(payload)
        if entry.get("contractType") == _PERPETUAL and entry.get("status") == _TRADING
    )
    return [info for info in found if info is not None]


def _symbols(payload: object) -> list[dict[str, Any]]:
    symbols = payload.get("symbols") if isinstance(payload, dict) else None
    if not isinstance(symbols, list):
        raise ExchangeProtocolError("exchange info has no 'symbols' list")
    for entry in symbols:
        if not isinstance(entry, dict):
            raise ExchangeProtocolError("exchange info symbol entry is not an object")
    return symbols


def _symbol_info(entry: dict[str, Any]) -> SymbolInfo | None:
    filters = entry.get("filters")
    by_type = {
        f.get("filterType"): f
        for f in (filters if isinstance(filters, list) else [])
        if isinstance(f, dict)
    }
    fields = (
        entry.get("symbol"),
        entry.get("baseAsset"),
        entry.get("quoteAsset"),
        entry.get("status"),
        by_type.get("PRICE_FILTER", {}).get("tickSize"),
        by_type.get("LOT_SIZE", {}).get("stepSize"),
    )
    texts = [value for value in fields if isinstance(value, str) and value]
    if len(texts) != len(fields):
        return None
    return SymbolInfo(*texts)
