"""OrderFox's REST contract (SPEC 6, prefix ``/api/v1``) and its error envelope.

Errors on these routes are ``{"detail", "status_code"}`` (FastAPI's shape plus the
status, as OrderFox's frontend reads it), with ``suggestions`` for an unknown symbol.
The symbol service is reached through :func:`symbol_service`, a FastAPI dependency
(tests may override it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.errors import error_details, http_status
from marketcast.api.state import app_state
from marketcast.errors import MarketcastError, NotReady
from marketcast.hub.symbols import SymbolService

PREFIX = "/api/v1"
STALE_HEADER = "X-Marketcast-Tickers-Stale"

router = APIRouter(prefix=PREFIX)


def error_body(error: MarketcastError) -> dict[str, Any]:
    """``{"detail", "status_code"}`` plus what a client can act on (``suggestions``)."""
    return {"detail": str(error), "status_code": http_status(error)} | error_details(error)


def error_response(error: MarketcastError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=http_status(error))


def symbol_service(request: Request) -> SymbolService:
    """The node's symbol service (``AppState.symbols``)."""
    service = app_state(request).symbols
    if service is None:
        raise NotReady("the symbol service is not running on this node")
    return service


Symbols = Annotated[SymbolService, Depends(symbol_service)]


@router.get("/symbols")
async def get_symbols(service: Symbols) -> Response:
    """Every trading USDT symbol, SPEC 5 fields in camelCase, by 24 h volume (a bare
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
