"""Exposing a node: browsers of other sites are refused, and no log line shows a token."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import httpx
import pytest
from starlette.routing import BaseRoute, WebSocketRoute
from websockets.exceptions import InvalidStatus

from marketcast.api.app import create_app
from marketcast.config import Settings
from marketcast.exchanges.sim import SimConfig
from support.servers import demo_process, running_hub, wait_ready
from support.wsio import connect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

START_MS = 1_780_272_000_000
GOOD = "http://good.example"
PATH_VALUES = {"symbol": "BTCUSDT", "timeframe": "1m", "interval": "1m"}


def routes_of(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, including those of routers included (unprefixed) in others."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from routes_of(included.routes) if included is not None else (route,)


def websocket_paths() -> list[str]:
    """Every WebSocket route the app serves, with its path parameters filled in."""
    app = create_app(Settings(symbols=("BTCUSDT",), intervals=("1m",)))
    paths = []
    for route in routes_of(app.routes):
        if isinstance(route, WebSocketRoute):
            path = re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], route.path)
            query = "?symbol=BTCUSDT&timeframe=1m" if "{" not in route.path else ""
            paths.append(path + query)
    return paths


def test_every_contract_has_websocket_routes_to_check() -> None:
    paths = websocket_paths()
    assert len(paths) >= 10
    assert {"/ws", "/ws/candles", "/api/v1/ws/trades/BTCUSDT"} <= {p.split("?")[0] for p in paths}


async def test_a_browser_of_another_site_is_refused_on_every_websocket_route() -> None:
    sim = SimConfig(seed=3, symbols=("BTCUSDT",), start_ms=START_MS, futures_symbols=("BTCUSDT",))
    async with running_hub(sim, symbols=("BTCUSDT",), cors_origins=(GOOD,)) as hub:
        await wait_ready(hub.http)
        for path in websocket_paths():
            url = hub.ws + path
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, origin="http://evil.example"):
                    pass
            assert refused.value.response.status_code == 403, path
            for origin in (GOOD, None):  # the allowed site, and a client that is no browser
                async with connect(url, origin=origin, open_timeout=30) as ws:
                    assert ws.response is not None
                    assert ws.response.status_code == 101, path


async def test_no_log_line_shows_a_token_however_it_was_presented() -> None:
    secret, wrong = "S3cretTok", "Wr0ngTok"
    flags = ("--auth-token", secret, "--log-level", "DEBUG")
    async with demo_process(*flags) as (http, lines, _):
        ws = http.replace("http", "ws", 1)
        async with httpx.AsyncClient(base_url=http) as client:
            assert (await client.get(f"/candles/BTCUSDT/1m?limit=1&token={secret}")).is_success
            bearer = {"Authorization": f"Bearer {secret}"}
            assert (await client.get("/symbols", headers=bearer)).is_success
            assert (await client.get(f"/symbols?token={wrong}")).status_code == 401
        async with connect(f"{ws}/ws?token={secret}") as socket_:
            await socket_.send('{"op":"ping"}')
            await socket_.recv()
        async with connect(f"{ws}/ws", additional_headers=bearer) as socket_:
            await socket_.send('{"op":"ping"}')
            await socket_.recv()
        offered = ["marketcast", f"marketcast.token.{secret}"]
        async with connect(f"{ws}/ws", subprotocols=offered) as socket_:
            assert socket_.subprotocol == "marketcast"
            await socket_.send('{"op":"ping"}')
            await socket_.recv()
        for url in (f"{ws}/ws?token={wrong}", f"{ws}/ws"):
            with pytest.raises(InvalidStatus):
                async with connect(url):
                    pass
    log = "".join(lines)
    assert "WebSocket /ws" in log, "the connections were logged"
    assert secret not in log
    assert wrong not in log
