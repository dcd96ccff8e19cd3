"""A repeated ``/candles`` request is answered ahead of the stack, exactly as the route
answers it, and only while that answer holds and the request may have it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message

from marketcast.api.app import create_app
from marketcast.api.feeds.shapes import candle_native
from marketcast.api.state import AppState
from marketcast.api.transport.replay import ReplayCached, Replays
from marketcast.domain.topics import Topic
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.servers import hub_settings, serve_app

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

SIM = SimConfig(seed=23, symbols=("BTCUSDT",), start_ms=1_714_521_600_000, speed=60.0)
TOPIC = Topic.of("BTCUSDT", "1m")
PATH = "/candles/BTCUSDT/1m"
TOKEN = "s3cret"
ALLOWED = "https://charts.example"
BEARER = {"authorization": f"Bearer {TOKEN}"}
# Added by uvicorn to every response, replayed or not; the rest must be the route's.
SERVER_HEADERS = {b"date", b"server"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app() -> AsyncIterator[FastAPI]:
    async with SimExchange(SIM) as sim:
        settings = hub_settings(
            sim, symbols=("BTCUSDT",), buffer_size=200, auth_token=TOKEN, cors_origins=(ALLOWED,)
        )
        app = create_app(settings, simulated=True)
        async with serve_app(app) as http:
            app.state.http = http
            async with httpx.AsyncClient(base_url=http, timeout=10) as client, asyncio.timeout(30):
                while (await client.get("/ready")).status_code != 200:
                    await asyncio.sleep(0.05)
            yield app


@pytest_asyncio.fixture(loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.state.http, timeout=10) as client:
        yield client


def state(app: FastAPI) -> AppState:
    found: AppState = app.state.marketcast
    return found


def frozen(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the topic's revision still, so the route's answer cannot move between reads."""
    monkeypatch.setattr(state(app).hub.store, "revision", lambda topic: 10**12)


def own_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    return [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in SERVER_HEADERS]


@pytest.mark.parametrize(
    ("origin", "limit"), [(None, 100), (ALLOWED, 101), ("https://elsewhere.example", 102)]
)
async def test_a_repeated_request_is_replayed_with_the_routes_own_headers_and_body(
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    origin: str | None,
    limit: int,
) -> None:
    frozen(app, monkeypatch)
    replays = state(app).replays
    headers = BEARER | ({"origin": origin} if origin else {})
    hits = replays.hits
    first = await client.get(PATH, params={"limit": limit}, headers=headers)
    assert replays.hits == hits  # the route answered it
    again = await client.get(PATH, params={"limit": limit}, headers=headers)
    assert replays.hits == hits + 1
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(again.json()["candles"]) == limit
    assert own_headers(again) == own_headers(first)
    if origin == ALLOWED:
        assert again.headers["access-control-allow-origin"] == ALLOWED
    else:
        assert "access-control-allow-origin" not in again.headers


async def test_a_remembered_request_without_the_bearer_token_goes_to_the_gate(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen(app, monkeypatch)
    replays = state(app).replays
    params = {"limit": 120}
    assert (await client.get(PATH, params=params, headers=BEARER)).status_code == 200
    hits = replays.hits
    assert (await client.get(PATH, params=params)).status_code == 401
    wrong = {"authorization": "Bearer s3cre"}
    assert (await client.get(PATH, params=params, headers=wrong)).status_code == 401
    # A query token is the gate's to check: answered, by the route.
    query_token = await client.get(PATH, params=params | {"token": TOKEN})
    assert query_token.status_code == 200
    assert replays.hits == hits
    scheme_case = {"authorization": f"bEARER {TOKEN}"}
    assert (await client.get(PATH, params=params, headers=scheme_case)).status_code == 200
    assert replays.hits == hits + 1


async def test_a_changed_topic_is_never_replayed_stale(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    store = state(app).hub.store
    params = {"limit": 100}
    await client.get(PATH, params=params, headers=BEARER)
    before = (await client.get(PATH, params=params, headers=BEARER)).json()["candles"]
    # The simulator runs at 60x: the forming candle changes several times a second.
    async with asyncio.timeout(10):
        while candle_native(await store.last(TOPIC) or _never()) == before[-1]:
            await asyncio.sleep(0.05)
    revision = store.revision(TOPIC)
    after = (await client.get(PATH, params=params, headers=BEARER)).json()["candles"]
    if store.revision(TOPIC) == revision:  # no write raced the request: it is exact
        assert after == [candle_native(c) for c in await store.read(TOPIC, limit=100)]
    assert after != before


async def _headers_from(app: ASGIApp, origin: str | None) -> list[tuple[bytes, bytes]]:
    raw = [(b"authorization", f"Bearer {TOKEN}".encode())]
    raw += [(b"origin", origin.encode())] if origin else []
    scope = {"type": "http", "method": "GET", "path": PATH, "query_string": b"", "headers": raw}
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    return list(sent[0]["headers"])


@pytest.mark.parametrize("allowed", [("*",), (ALLOWED,), ()])
@pytest.mark.parametrize("origin", [None, ALLOWED, "https://elsewhere.example"])
async def test_the_cors_headers_are_starlettes_for_every_allow_list(
    allowed: tuple[str, ...], origin: str | None
) -> None:
    body = b'{"candles":[]}'
    route = Response(body, media_type="application/json")
    replays = Replays()
    replays.remember({"path": PATH, "query_string": b""}, lambda: body)
    replayed = ReplayCached(route, replays, TOKEN, allowed)
    starlette = CORSMiddleware(route, allow_origins=allowed, allow_methods=["GET"])
    assert await _headers_from(replayed, origin) == await _headers_from(starlette, origin)
    assert replays.hits == 1


async def test_the_oldest_request_is_forgotten_first() -> None:
    replays = Replays(max_entries=2)
    scopes = [{"path": PATH, "query_string": f"limit={n}".encode()} for n in range(3)]
    for n, scope in enumerate(scopes):
        replays.remember(scope, str(n).encode)
    assert len(replays) == 2
    assert [replays.body(scope) for scope in scopes] == [None, b"1", b"2"]


def _never() -> Any:
    raise AssertionError("the store lost the topic")
