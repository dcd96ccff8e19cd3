"""Field sets the compatibility contracts require (SPEC 5/6), shared by the tests."""

from __future__ import annotations

SPEC5_FIELDS = frozenset(
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
