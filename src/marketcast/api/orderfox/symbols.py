"""OrderFox's symbol routes (``/api/v1/symbols``) and one symbol's metadata for the others.

The symbol service is reached through :func:`symbol_service`, a FastAPI dependency
(tests may override it); the chart and order-book routes read one symbol's metadata
through :func:`symbol_meta`, which still answers when tickers cannot be fetched.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.orderfox.envelope import PREFIX, error_response
from marketcast.api.state import AppState, app_state
from marketcast.domain.market import SymbolMeta, build_symbol_meta
from marketcast.errors import ExchangeError, ExchangeProtocolError, MarketcastError, NotReady
from marketcast.hub.symbols.service import SymbolService

log = logging.getLogger(__name__)

STALE_HEADER = "X-Marketcast-Tickers-Stale"

router = APIRouter(prefix=PREFIX)


def symbol_service(request: Request) -> SymbolService:
    """The node's symbol service (``AppState.symbols``)."""
    service = app_state(request).symbols
    if service is None:
        raise NotReady("the symbol service is not running on this node")
    return service


async def symbol_meta(state: AppState, symbol: str) -> SymbolMeta:
    """``symbol``'s metadata (``symbol`` is an exchange id the hub resolved).

    From the symbol service when it can answer; otherwise from the listing alone (no
    24 h ticker): the price format and the tick as the only rounding option still come
    from the exchange's filters, so a chart or a book is not refused because the ticker
    endpoint is down.
    """
    if state.symbols is not None:
        try:
            return await state.symbols.get(symbol)
        except ExchangeError as error:
            log.warning("symbol %s served without its 24h ticker: %s", symbol, error)
    listing = state.hub.listed.get(symbol)
    if listing is None:
        raise NotReady("exchange info not loaded yet (is the exchange reachable?); retry")
    try:
        return build_symbol_meta(listing, None)
    except ValueError as error:
        raise ExchangeProtocolError(str(error)) from None


Symbols = Annotated[SymbolService, Depends(symbol_service)]


@router.get("/symbols")
async def get_symbols(service: Symbols) -> Response:
    """Every trading USDT symbol, the symbol service's fields in camelCase, by 24 h volume (a bare
    list, as OrderFox's ``/symbols``). Served tickers older than the TTL because the
    exchange failed are flagged with the ``X-Marketcast-Tickers-Stale`` header."""
    try:
        metas = await service.all()
    except MarketcastError as error:
        return error_response(error)
    return JSONResponse([meta.to_camel_json() for meta in metas], headers=_freshness(service))


@router.get("/symbols/{symbol}")
async def get_symbol(symbol: str, service: Symbols) -> Response:
    """One symbol's object (any listed symbol, any quote); 404 with suggestions."""
    try:
        meta = await service.get(symbol)
    except MarketcastError as error:
        return error_response(error)
    return JSONResponse(meta.to_camel_json(), headers=_freshness(service))


def _freshness(service: SymbolService) -> dict[str, str]:
    return {STALE_HEADER: "true"} if service.stale else {}
