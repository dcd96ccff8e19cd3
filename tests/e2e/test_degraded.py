"""Acceptance: an unreachable exchange or a delisted symbol degrades, never crashes."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from marketcast.api.app import create_app
from marketcast.config import Settings
from marketcast.exchanges.sim import SimConfig
from support.servers import running_hub, serve_app, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def closed_port() -> int:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_exchange_reports_degraded_and_not_ready() -> None:
    port = closed_port()
    settings = Settings(
        rest_base=f"http://127.0.0.1:{port}",
        ws_base=f"ws://127.0.0.1:{port}",
        symbols=("BTCUSDT",),
        intervals=("1m",),
    )
    async with (
        serve_app(create_app(settings)) as http,
        httpx.AsyncClient(base_url=http) as client,
    ):
        await asyncio.sleep(0.5)
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["mode"] == "live"
        assert health["sim_speed"] is None
        assert any("exchange info" in reason for reason in health["reasons"])
        assert (await client.get("/ready")).status_code == 503
        candles = await client.get("/candles/BTCUSDT/1m")
        assert candles.status_code == 503
        assert candles.json()["code"] == "not_ready"


async def test_unlisted_configured_symbol_is_reported_and_does_not_block_readiness() -> None:
    config = SimConfig(seed=1, start_ms=1_780_272_000_000, start_paused=True)
    async with running_hub(config, symbols=("BTCUSDT", "FOOBARUSDT"), intervals=("1m",)) as hub:
        await wait_ready(hub.http)
        async with httpx.AsyncClient(base_url=hub.http) as client:
            health = (await client.get("/health")).json()
            assert health["status"] == "degraded"
            assert any("FOOBARUSDT" in reason for reason in health["reasons"])
            assert (await client.get("/symbols")).json() == {"symbols": ["BTCUSDT"]}
            assert (await client.get("/candles/FOOBARUSDT/1m")).status_code == 404
