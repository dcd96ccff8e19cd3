"""Every route of the SmartTrade contract, in the order they must be matched."""

from __future__ import annotations

from fastapi import APIRouter

from marketcast.api.smarttrade import rest, ws

router = APIRouter()
router.include_router(rest.router)
# Its /ws/candles* routes must be matched before its /ws/{symbol}; every native WebSocket
# route is included before this router (the native /ws is not /ws/{symbol} either way).
router.include_router(ws.router)
