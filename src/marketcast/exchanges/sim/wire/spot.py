"""Binance spot JSON shapes, built from tape integers at the last moment.

Spot REST and streams send prices and quantities as fixed-point strings with eight
decimals (``"43000.01000000"``); this module is the only place that makes them. A real
kline stream payload, for reference::

    {"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,
     "s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025",
     "l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from marketcast.exchanges.sim.truth.ground_truth import Kline
from marketcast.exchanges.sim.truth.symbols import SymbolSpec

PLACES: Final = 8
_ZEROS: Final = "0" * PLACES
_ORDER_TYPES: Final = (
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
_STP_MODES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")

Json = dict[str, Any]
NumberText = Callable[[int, int], str]
"""``(value, decimals)`` → the wire text of ``value * 10**-decimals``."""


def decimal_text(value: int, decimals: int) -> str:
    """``value * 10**-decimals`` with exactly eight decimals, e.g. ``(4300001, 2)`` →
    ``"43000.01000000"``. ``decimals`` must be at most eight."""
    if value < 0:
        return "-" + decimal_text(-value, decimals)
    if decimals == 0:
        return f"{value}.{_ZEROS}"
    # String surgery beats divmod formatting here: it runs ~10 times per kline row.
    digits = str(value).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}{_ZEROS[decimals:]}"


def precise_text(value: int, decimals: int) -> str:
    """``value * 10**-decimals`` with exactly ``decimals`` decimals, as USD-M futures sends
    numbers (``(4300001, 2)`` → ``"43000.01"``, ``(7, 0)`` → ``"7"``)."""
    if value < 0:
        return "-" + precise_text(-value, decimals)
    if decimals == 0:
        return str(value)
    digits = str(value).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"


class KlineFormatter:
    """Formats one symbol's klines as REST rows and stream payloads.

    Spot and USD-M futures klines have the same shape; only the number text differs
    (``number``: :func:`decimal_text` for spot, :func:`precise_text` for futures).
    """

    def __init__(self, spec: SymbolSpec, number: NumberText = decimal_text) -> None:
        self._spec = spec
        self._px = spec.price_decimals
        self._qty = spec.qty_decimals
        self._text = number

    def row(self, kline: Kline) -> list[Any]:
        """One ``/api/v3/klines`` row."""
        bar = kline.bar
        return [
            kline.open_time,
            self._text(bar.open, self._px),
            self._text(bar.high, self._px),
            self._text(bar.low, self._px),
            self._text(bar.close, self._px),
            self._text(bar.volume, self._qty),
            kline.close_time,
            self._text(kline.quote_volume_e8, PLACES),
            bar.trades,
            self._text(kline.taker_buy_volume, self._qty),
            self._text(kline.taker_buy_quote_e8, PLACES),
            "0",
        ]

    def event(self, kline: Kline, event_time: int, *, final: bool) -> Json:
        """The ``<symbol>@kline_<interval>`` payload; ``final`` sets ``x``."""
        bar = kline.bar
        return {
            "e": "kline",
            "E": event_time,
            "s": kline.symbol,
            "k": {
                "t": kline.open_time,
                "T": kline.close_time,
                "s": kline.symbol,
                "i": kline.interval.code,
                "f": bar.first_id,
                "L": bar.last_id,
                "o": self._text(bar.open, self._px),
                "c": self._text(bar.close, self._px),
                "h": self._text(bar.high, self._px),
                "l": self._text(bar.low, self._px),
                "v": self._text(bar.volume, self._qty),
                "n": bar.trades,
                "x": final,
                "q": self._text(kline.quote_volume_e8, PLACES),
                "V": self._text(kline.taker_buy_volume, self._qty),
                "Q": self._text(kline.taker_buy_quote_e8, PLACES),
                "B": "0",
            },
        }


def exchange_info(specs: Iterable[SymbolSpec], server_time: int, weight_limit: int) -> Json:
    """``GET /api/v3/exchangeInfo`` for ``specs``."""
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [
            _rate_limit("REQUEST_WEIGHT", "MINUTE", 1, weight_limit),
            _rate_limit("ORDERS", "SECOND", 10, 100),
            _rate_limit("ORDERS", "DAY", 1, 200_000),
            _rate_limit("RAW_REQUESTS", "MINUTE", 5, 61_000),
        ],
        "exchangeFilters": [],
        "symbols": [symbol_info(spec) for spec in specs],
    }


def symbol_info(spec: SymbolSpec) -> Json:
    """One entry of ``exchangeInfo.symbols``."""
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": PLACES,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": PLACES,
        "quoteAssetPrecision": PLACES,
        "baseCommissionPrecision": PLACES,
        "quoteCommissionPrecision": PLACES,
        "orderTypes": list(_ORDER_TYPES),
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": _filters(spec),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": list(_STP_MODES),
    }


def _filters(spec: SymbolSpec) -> list[Json]:
    tick = decimal_text(1, spec.price_decimals)
    step = decimal_text(1, spec.qty_decimals)
    return [
        {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000",
         "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "90000000.00000000",
         "stepSize": step},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "1000000.00000000",
         "stepSize": "0.00000000"},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
    ]  # fmt: skip


def _rate_limit(kind: str, interval: str, count: int, limit: int) -> Json:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": count, "limit": limit}


def error_body(code: int, msg: str) -> Json:
    """Binance's REST error body, e.g. ``{"code": -1121, "msg": "Invalid symbol."}``."""
    return {"code": code, "msg": msg}
