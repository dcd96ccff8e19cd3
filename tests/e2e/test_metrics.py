"""Acceptance: ``/metrics`` tells an operator what happened upstream and downstream.

A hub follows the simulator; a client subscribes to candles, a book and a tape; the
exchange drops every connection and answers the backfill with 429s. The scrape must
parse with prometheus-client's own parser, show the reconnect and the 429s, have latency
samples, and never use a label for something unbounded (a client, a symbol, a path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from marketcast.api.app import create_app
from marketcast.config import Settings
from marketcast.exchanges.sim import SimConfig
from support.routes import websocket_paths
from support.servers import running_hub, wait_ready
from support.wsio import closed_with, connect, receive_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TOKEN = "metrics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# What a label may hold: small closed sets, route templates and store operation names.
BOUNDED_LABELS = {
    "market": {"spot", "usdm"},
    "stream": {"kline", "depth", "trade", "liquidation"},
    "feed": {"candles", "books", "trades"},
    "status": {"429", "418"},
    "channel": {"candles", "book", "depth", "trades", "liquidations", "indicators"},
    "store": {"redis"},
    "source": {"cache", "exchange"},
}


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def total(found: Iterable[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in found
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def snapshot_of(channel: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("type") == "snapshot" and message["channel"] == channel


async def scrape(client: httpx.AsyncClient) -> list[Sample]:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def wait_for(client: httpx.AsyncClient, done: Any, what: str) -> list[Sample]:
    """Scrape until ``done(samples)`` holds; fail naming ``what`` after a generous bound."""
    try:
        async with asyncio.timeout(60):
            while not done(found := await scrape(client)):
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"/metrics never showed {what}")
    return found


async def test_metrics_show_reconnects_rate_limits_and_latencies() -> None:
    config = SimConfig(
        seed=5, symbols=("BTCUSDT",), start_ms=int(time.time() * 1000), push_interval_s=0.2
    )
    async with running_hub(
        config, symbols=("BTCUSDT",), intervals=("1m",), auth_token=TOKEN, data_timeout_s=2.0
    ) as hub:
        await wait_ready(hub.http)
        async with (
            httpx.AsyncClient(base_url=hub.http) as client,
            connect(f"{hub.ws}/ws", additional_headers=AUTH) as ws,
        ):
            assert (await client.get("/metrics")).status_code == 401  # the token covers it
            before = await scrape(client)
            for channel in ("candles", "orderbook", "trades"):
                hello = {"op": "subscribe", "channel": channel, "symbol": "BTCUSDT"}
                await ws.send(orjson.dumps(hello).decode())
                await receive_until(ws, snapshot_of(channel), timeout=30)

            live = await wait_for(
                client,
                lambda found: all(
                    total(found, "marketcast_exchange_to_client_seconds_count", feed=feed) > 0
                    for feed in ("candles", "books", "trades")
                ),
                "push-to-client latency samples for candles, books and trades",
            )
            assert total(live, "marketcast_ws_clients", route="/ws") >= 1
            for channel in ("candles", "book", "trades"):
                assert total(live, "marketcast_subscriptions", channel=channel) >= 1

            hub.sim.faults.rest_errors(429, count=2, retry_after=0.5)
            hub.sim.faults.drop_connections()
            after = await wait_for(
                client,
                lambda found: (
                    total(found, "marketcast_upstream_reconnects_total")
                    > total(before, "marketcast_upstream_reconnects_total")
                    and total(found, "marketcast_rest_rate_limited_total", status="429")
                    > total(before, "marketcast_rest_rate_limited_total", status="429")
                ),
                "a reconnect and a 429 after the drop",
            )

    assert total(after, "marketcast_ingest_to_publish_seconds_count", feed="candles") > 0
    assert total(after, "marketcast_upstream_messages_total", stream="kline") > 0
    assert total(after, "marketcast_upstream_messages_total", stream="depth") > 0
    assert total(after, "marketcast_rest_requests_total", market="spot") > 0
    assert total(after, "marketcast_leader", market="spot") == 1
    assert any(s.name == "process_resident_memory_bytes" for s in after)
    assert any(s.name == "marketcast_ws_outbound_queued_messages" for s in after)
    assert_bounded_labels(after)


def assert_bounded_labels(found: Iterable[Sample]) -> None:
    routes = set(websocket_paths(create_app(Settings()).routes))
    for sample in found:
        for key, value in sample.labels.items():
            if key in ("le", "quantile", "operation") or sample.name.startswith(
                ("python_", "process_")
            ):
                continue
            if key == "route":
                assert value in routes, f"a route label that is not a route template: {sample}"
            else:
                assert key in BOUNDED_LABELS, f"unexpected label {key!r} on {sample.name}"
                assert value in BOUNDED_LABELS[key], f"{key}={value!r} on {sample.name}"


async def test_metrics_can_be_opened_to_a_scraper_without_the_token() -> None:
    config = SimConfig(seed=5, symbols=("BTCUSDT",), start_paused=True)
    async with (
        running_hub(
            config,
            symbols=("BTCUSDT",),
            intervals=("1m",),
            auth_token=TOKEN,
            metrics_public=True,
            feeds=(),
        ) as hub,
        httpx.AsyncClient(base_url=hub.http) as client,
    ):
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "marketcast_upstream_connections" in metrics.text
        assert (await client.get("/symbols")).status_code == 401


REFUSED = (
    "/ws/candles/NOPEUSDT",
    "/ws/NOPEUSDT",
    "/api/v1/ws/orderbook/NOPEUSDT",
    "/api/v1/ws/orderbook?limit=2",
    "/api/v1/ws/candles/BTCUSDT/7m",
    "/ws?batch_ms=abc",
)


async def test_sockets_refused_after_accepting_are_not_counted_as_clients() -> None:
    config = SimConfig(seed=5, symbols=("BTCUSDT",), start_paused=True)
    async with running_hub(config, symbols=("BTCUSDT",), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        async with httpx.AsyncClient(base_url=hub.http, headers=AUTH) as client:
            before = await scrape(client)
            for path in REFUSED:
                async with connect(f"{hub.ws}{path}") as ws:
                    await closed_with(ws, timeout=30)
            await wait_for(
                client,
                lambda found: (
                    total(found, "marketcast_ws_clients") == total(before, "marketcast_ws_clients")
                ),
                "the refused sockets uncounted",
            )
            after = await scrape(client)
    closes = "marketcast_slow_consumer_closes_total"
    assert total(after, closes) == total(before, closes)
