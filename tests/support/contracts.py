"""Field sets the compatibility contracts require (docs/smarttrade.md, docs/orderfox.md),
shared by the tests."""

from __future__ import annotations

SYMBOL_FIELDS = frozenset(
    {
        "id",
        "symbol",
        "baseAsset",
        "quoteAsset",
        "uiName",
        "volume24h",
        "volume24hFormatted",
        "pricePrecision",
        "amountPrecision",
        "priceFormat",
        "roundingOptions",
        "defaultRounding",
    }
)
