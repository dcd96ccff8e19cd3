"""OrderFox's ``GET /api/v1/symbols`` (docs/orderfox.md) against a hub over the simulator.

The simulator's clock is paused, so its 24 h tickers are fixed and the served volumes
can be compared with what the simulator itself reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from marketcast.api.app import create_app
from marketcast.api.orderfox import symbols as orderfox
from marketcast.domain.formatting import format_volume
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.hub.symbols.service import SymbolService
from support.contracts import SYMBOL_FIELDS
from support.servers import hub_settings, serve_app

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
LISTED = ("BTCUSDT", "ETHUSDT", "DOGEUSDT", "XRPUSDT", "SOLUSDT")
SIM = SimConfig(seed=5, symbols=LISTED, start_ms=START_MS, start_paused=True)


def with_orderfox(app: FastAPI, rest: BinanceRest) -> FastAPI:
    """Add the OrderFox routes (unless the app has them) with a symbol service that
    reads the running hub's catalog, as the node wires it."""
    if not any(getattr(route, "path", None) == "/api/v1/symbols" for route in app.routes):
        app.include_router(orderfox.router)
    symbols = SymbolService(
        lambda: app.state.marketcast.hub.listed, rest.tickers_24h, time.monotonic
    )
    app.dependency_overrides[orderfox.symbol_service] = lambda: symbols
    return app


@asynccontextmanager
async def orderfox_hub() -> AsyncIterator[tuple[SimExchange, httpx.AsyncClient]]:
    async with SimExchange(SIM) as sim, BinanceRest(sim.rest_base) as rest:
        settings = hub_settings(sim, symbols=("BTCUSDT",), buffer_size=50)
        app = with_orderfox(create_app(settings, simulated=True), rest)
        async with serve_app(app) as http, httpx.AsyncClient(base_url=http) as client:
            yield sim, client


async def symbols_when_ready(client: httpx.AsyncClient) -> httpx.Response:
    """503 ``{"detail","status_code"}`` until the hub has exchange info, then the list."""
    async with asyncio.timeout(15):
        while True:
            response = await client.get("/api/v1/symbols")
            if response.status_code == 200:
                return response
            assert response.status_code == 503, response.text
            assert response.json()["status_code"] == 503
            await asyncio.sleep(0.05)


async def test_symbols_list_matches_the_exchange_and_the_contract_fields() -> None:
    async with orderfox_hub() as (sim, client):
        body: list[dict[str, Any]] = (await symbols_when_ready(client)).json()
        tickers = await client.get(sim.rest_base + "/api/v3/ticker/24hr")
        raw = {t["symbol"]: t for t in tickers.json()}
        assert [s["id"] for s in body] == sorted(
            LISTED, key=lambda s: -Decimal(raw[s]["quoteVolume"])
        )
        for item in body:
            assert set(item) >= SYMBOL_FIELDS
            assert item["symbol"] == item["id"]  # the id clients echo, not BTC/USDT
            quote_volume = Decimal(raw[item["id"]]["quoteVolume"])
            assert item["volume24h"] == float(quote_volume)
            assert item["volume24hFormatted"] == format_volume(quote_volume)
            assert item["lastPrice"] == float(raw[item["id"]]["lastPrice"])
        btc = next(s for s in body if s["id"] == "BTCUSDT")
        assert btc["uiName"] == "BTC/USDT"
        assert (btc["pricePrecision"], btc["amountPrecision"]) == (2, 5)
        assert btc["priceFormat"] == {"type": "price", "precision": 2, "minMove": 0.01}
        doge = next(s for s in body if s["id"] == "DOGEUSDT")
        assert (doge["pricePrecision"], doge["amountPrecision"]) == (5, 0)
        assert doge["roundingOptions"][0] == 0.00001


async def test_one_symbol_and_unknown_symbol_envelope() -> None:
    async with orderfox_hub() as (_, client):
        await symbols_when_ready(client)
        one = await client.get("/api/v1/symbols/btc-usdt")
        assert one.status_code == 200
        assert one.json()["id"] == "BTCUSDT"
        missing = await client.get("/api/v1/symbols/BTCUSD")
        assert missing.status_code == 404
        error = missing.json()
        assert error["status_code"] == 404
        assert "BTCUSDT" in error["detail"]
        assert error["suggestions"][0] == "BTCUSDT"


async def test_unknown_routes_and_wrong_methods_keep_the_envelope() -> None:
    async with orderfox_hub() as (_, client):
        await symbols_when_ready(client)
        missing = await client.get("/api/v1/nonexistent")
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "Not Found", "status_code": 404},
        )
        wrong = await client.post("/api/v1/symbols")
        assert wrong.status_code == 405
        assert wrong.json() == {"detail": "Method Not Allowed", "status_code": 405}
        assert "GET" in wrong.headers["allow"]
