"""Every route of the native API, in the order they must be matched."""

from __future__ import annotations

from fastapi import APIRouter

from marketcast.api.native import indicators, metrics, rest, ws

router = APIRouter()
router.include_router(rest.router)
router.include_router(metrics.router)
router.include_router(indicators.router)
router.include_router(ws.router)
