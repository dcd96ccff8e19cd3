"""Every route of the OrderFox contract, in the order they must be matched."""

from __future__ import annotations

from fastapi import APIRouter

from marketcast.api.orderfox import book, candles, liquidations, symbols, trades

router = APIRouter()
for module in (symbols, candles, book, trades, liquidations):
    router.include_router(module.router)
