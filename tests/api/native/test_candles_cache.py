"""``GET /candles`` serves an encoded body again only while the store has not changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from marketcast.api.app import create_app
from marketcast.api.feeds.shapes import candle_native
from marketcast.api.state import AppState
from marketcast.domain.topics import Topic
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.servers import hub_settings, serve_app, wait_ready

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

SIM = SimConfig(seed=23, symbols=("BTCUSDT",), start_ms=1_714_521_600_000, speed=60.0)
TOPIC = Topic.of("BTCUSDT", "1m")
PATH = "/candles/BTCUSDT/1m"


@dataclass
class Served:
    app: FastAPI
    http: str

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.marketcast
        return state


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[Served]:
    async with SimExchange(SIM) as sim:
        app = create_app(hub_settings(sim, symbols=("BTCUSDT",), buffer_size=200), simulated=True)
        async with serve_app(app) as http:
            await wait_ready(http)
            yield Served(app, http)


@pytest_asyncio.fixture(loop_scope="module")
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.http, timeout=10) as client:
        yield client


def count_reads(served: Served, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    store = served.state.hub.store
    real: Callable[..., Awaitable[Any]] = store.read
    reads: list[int] = []

    async def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "read", counting)
    return reads


async def test_an_unchanged_topic_is_answered_from_the_encoded_body(
    served: Served, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = served.state.hub.store
    monkeypatch.setattr(store, "revision", lambda topic: 10**12)  # frozen: nothing changes
    reads = count_reads(served, monkeypatch)
    first = await client.get(PATH, params={"limit": 100})
    again = await client.get(PATH, params={"limit": 100})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert len(reads) == 1
    other_limit = await client.get(PATH, params={"limit": 50})
    assert len(other_limit.json()["candles"]) == 50
    assert len(reads) == 2
    # `since` reads are never cached: their values are as many as the clients' histories.
    since = first.json()["candles"][10]["time"]
    await client.get(PATH, params={"since": since})
    await client.get(PATH, params={"since": since})
    assert len(reads) == 4


async def test_a_changed_topic_is_read_again_and_never_served_stale(
    served: Served, client: httpx.AsyncClient
) -> None:
    store = served.state.hub.store
    before = (await client.get(PATH, params={"limit": 100})).json()["candles"]
    # The simulator runs at 60x: the forming candle changes several times a second.
    async with asyncio.timeout(10):
        while candle_native(await store.last(TOPIC) or _never()) == before[-1]:
            await asyncio.sleep(0.05)
    revision = store.revision(TOPIC)
    after = (await client.get(PATH, params={"limit": 100})).json()["candles"]
    if store.revision(TOPIC) == revision:  # no write raced the request: it is exact
        expected = [candle_native(c) for c in await store.read(TOPIC, limit=100)]
        assert after == expected
    assert after != before


def _never() -> Any:
    raise AssertionError("the store lost the topic")
