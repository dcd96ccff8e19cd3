"""A node with ``--market usdm``: candles, book and trades from USD-M futures, end to end.

The simulator serves spot and USD-M on one origin, so a node that quietly fell back to
spot would still show plausible data; the test therefore also checks which REST paths the
node asked for and that a futures-only fault (a broken ``pu`` chain) reaches its books.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from marketcast.domain.intervals import Interval
from marketcast.exchanges.sim import SimConfig
from support.servers import running_hub, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
M1 = Interval.parse("1m")


async def _until(check: Callable[[], Any], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


def _books(health: dict[str, Any]) -> dict[str, Any]:
    books: dict[str, Any] = health["upstream"]["feeds"]["books"]["books"]
    return books


async def test_usdm_node_reads_futures_paths_and_serves_truth() -> None:
    config = SimConfig(start_ms=START_MS, speed=60)
    async with (
        running_hub(config, market="usdm", intervals=("1m",)) as hub,
        httpx.AsyncClient(base_url=hub.http, timeout=10) as client,
    ):
        await wait_ready(hub.http)

        candles = (await client.get("/candles/BTCUSDT/1m", params={"limit": 100})).json()
        times = [c["time"] * 1000 for c in candles["candles"]]
        truth = hub.sim.futures_truth.klines(
            "BTCUSDT", M1, times[0], times[-1], hub.sim.clock.now_ms()
        )
        assert [c.time * 1000 for c in truth] == times
        assert [c["close"] for c in candles["candles"][:-1]] == [c.close for c in truth[:-1]]

        # A gap in the futures diff stream breaks a pu chain: that book resyncs.
        async def synced_books() -> bool:
            books = _books((await client.get("/health")).json())
            return all(b["state"] == "synced" for b in books.values())

        await _until(synced_books)
        requested = hub.sim.stats.rest_requests
        assert requested["/fapi/v1/klines"] > 0
        assert requested["/fapi/v1/depth"] > 0
        assert requested["/fapi/v1/aggTrades"] > 0
        assert requested["/api/v3/klines"] == requested["/api/v3/depth"] == 0
        before = {s: b["resyncs"] for s, b in _books((await client.get("/health")).json()).items()}
        assert hub.sim.faults.depth_gap(1, market="usdm") >= 1

        async def resynced() -> bool:
            books = _books((await client.get("/health")).json())
            return any(books[s]["resyncs"] > before[s] for s in before) and all(
                b["state"] == "synced" for b in books.values()
            )

        await _until(resynced)
        # One missing diff breaks one book; the other book keeps its chain.
        after = {s: b["resyncs"] for s, b in _books((await client.get("/health")).json()).items()}
        assert sorted(after[s] - before[s] for s in before) == [0, 1]
        book = await client.get("/orderbook/BTCUSDT", params={"limit": 5})
        assert book.status_code == 200
        assert len(book.json()["bids"]) == 5

        trades = (await client.get("/trades/BTCUSDT", params={"limit": 200})).json()["trades"]
        ids = [t["id"] for t in trades]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "the tape has a gap"
        rows = (
            await client.get(
                f"{hub.sim.rest_base}/fapi/v1/aggTrades",
                params={"symbol": "BTCUSDT", "fromId": ids[0], "limit": len(ids)},
            )
        ).json()
        assert [row["a"] for row in rows] == ids
        assert [float(row["p"]) for row in rows] == [t["price"] for t in trades]
