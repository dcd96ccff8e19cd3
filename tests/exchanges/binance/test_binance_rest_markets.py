"""BinanceRest per market: spot against the simulator, USD-M against a recording server.

The simulator charges every request the weight Binance documents and reports it in
``X-MBX-USED-WEIGHT-1M``, so a fresh simulator's header after one call is that call's
weight: an independent check of the client's own weight table.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from marketcast.domain.topics import Topic
from marketcast.errors import InvalidInterval
from marketcast.exchanges.binance import SPOT, USDM, BinanceRest
from marketcast.exchanges.binance.weights import depth_weight, fixed_weight, klines_weight
from marketcast.exchanges.sim import SimConfig, SimExchange

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
MINUTE_MS = 60_000
T0 = 1_700_000_040_000


@contextlib.asynccontextmanager
async def serve_app(app: Starlette) -> AsyncIterator[str]:
    """``app`` on a free loopback port, as ``http://127.0.0.1:<port>``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", ws="none", http="h11", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def sim() -> SimExchange:
    return SimExchange(SimConfig(start_ms=START_MS, speed=10, push_interval_s=0.1))


# --- spot, against the simulator -----------------------------------------------------------


async def test_spot_depth_snapshot_is_the_sims_book() -> None:
    async with sim() as exchange, BinanceRest(exchange.rest_base) as rest:
        exchange.clock.pause()
        snapshot = await rest.depth_snapshot("BTCUSDT", limit=20)
        book = exchange.book_at("BTCUSDT", snapshot.last_update)
    assert len(snapshot.bids) == min(20, len(book.bids)) > 0
    assert len(snapshot.asks) == min(20, len(book.asks)) > 0
    assert [p for p, _ in snapshot.bids] == sorted((p for p, _ in snapshot.bids), reverse=True)
    assert snapshot.bids[0][0] < snapshot.asks[0][0]
    assert snapshot.event_time is None  # spot snapshots carry no time


async def test_spot_agg_trades_recent_and_from_id_agree_with_the_tape() -> None:
    async with sim() as exchange, BinanceRest(exchange.rest_base) as rest:
        exchange.clock.pause()
        now = exchange.clock.now_ms()
        recent = await rest.agg_trades("BTCUSDT", limit=50)
        start = recent[0].id - 30
        paged = await rest.agg_trades("BTCUSDT", from_id=start, limit=40)
        truth = exchange.truth.trades("BTCUSDT", from_id=start, end_ms=now)[:40]
    ids = [t.id for t in recent]
    assert ids == list(range(ids[0], ids[0] + 50))
    newest = exchange.truth.trades("BTCUSDT", start_ms=now - 5_000, end_ms=now)[-1]
    assert ids[-1] == newest.trade_id
    assert [(t.id, t.time_ms, t.buyer_is_maker) for t in paged] == [
        (t.trade_id, t.time, t.is_buyer_maker) for t in truth
    ]
    overlap = {t.id: t for t in paged} | {t.id: t for t in recent}
    assert all(overlap[t.id] == t for t in paged)


Call = Callable[[BinanceRest], Awaitable[object]]
SPOT_CALLS: dict[str, tuple[Call, int]] = {
    "depth 100": (lambda r: r.depth_snapshot("BTCUSDT", 100), depth_weight(SPOT, 100)),
    "depth 500": (lambda r: r.depth_snapshot("BTCUSDT", 500), depth_weight(SPOT, 500)),
    "depth 1000": (lambda r: r.depth_snapshot("BTCUSDT"), depth_weight(SPOT, 1000)),
    "aggTrades": (lambda r: r.agg_trades("BTCUSDT"), fixed_weight(SPOT, "aggTrades")),
    "exchangeInfo": (lambda r: r.exchange_info(), fixed_weight(SPOT, "exchangeInfo")),
    "ticker": (lambda r: r.tickers_24h(), fixed_weight(SPOT, "ticker/24hr")),
    "time": (lambda r: r.server_time(), fixed_weight(SPOT, "time")),
    "klines": (
        lambda r: r.klines(Topic.of("BTCUSDT", "1m"), limit=10),
        klines_weight(SPOT, 10),
    ),
}


@pytest.mark.parametrize("name", SPOT_CALLS)
async def test_spot_client_weighs_each_call_as_the_sim_charges_it(name: str) -> None:
    call, weight = SPOT_CALLS[name]
    async with sim() as exchange, BinanceRest(exchange.rest_base) as rest:
        await call(rest)
        assert rest.stats.weight_used_last == weight


async def test_spot_client_keeps_the_spot_weight_limit_unless_told_otherwise() -> None:
    async with BinanceRest("http://127.0.0.1:9") as spot:
        assert spot.weight_limit == 6000
    async with BinanceRest("http://127.0.0.1:9", weight_limit=1200, max_concurrency=2) as own:
        assert own.weight_limit == 1200


# --- USD-M futures, against a recording server ---------------------------------------------


def contract(symbol: str, contract_type: str, status: str = "TRADING") -> dict[str, Any]:
    return {
        "symbol": symbol, "contractType": contract_type, "status": status,
        "baseAsset": "BTC", "quoteAsset": "USDT",
        "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "stepSize": "0.001"},
        ],
    }  # fmt: skip


@dataclass
class FakeFutures:
    """Answers ``/fapi/v1/*`` like USD-M futures; klines ``T0 ..`` one a minute."""

    length: int = 4000
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def klines(self, q: dict[str, str]) -> Response:
        limit = int(q.get("limit", "500"))
        if limit > 1500:
            return JSONResponse({"code": -1130, "msg": "Invalid limit."}, status_code=400)
        end = int(q.get("endTime", str(T0 + self.length * MINUTE_MS)))
        times = [T0 + i * MINUTE_MS for i in range(self.length) if T0 + i * MINUTE_MS <= end]
        return JSONResponse([self.row(t) for t in times[-limit:]])

    @staticmethod
    def row(t: int) -> list[object]:
        return [t, "1.0", "1.0", "1.0", "1.0", "2", t + MINUTE_MS - 1, "2", 3, "1", "1", "0"]

    def answer(self, path: str, q: dict[str, str]) -> Response:
        if path == "klines":
            return self.klines(q)
        bodies: dict[str, object] = {
            "time": {"serverTime": T0},
            "exchangeInfo": {
                "symbols": [
                    contract("BTCUSDT", "PERPETUAL"),
                    contract("BTCUSDT_240628", "CURRENT_QUARTER"),
                    contract("OLDUSDT", "PERPETUAL", status="SETTLING"),
                ]
            },
            "depth": {
                "lastUpdateId": 77, "E": T0 + 5, "T": T0 + 4,
                "bids": [["36000.10", "1.5"]], "asks": [["36000.20", "0.5"]],
            },
            "aggTrades": [
                {"a": int(q.get("fromId", "500")) + i, "p": "36000.1", "q": "0.002",
                 "f": 9, "l": 9, "T": T0 + i, "m": bool(i % 2)}
                for i in range(3)
            ],
            "ticker/24hr": [
                {"symbol": "BTCUSDT", "lastPrice": "36000.1", "priceChangePercent": "1.2",
                 "volume": "1000", "quoteVolume": "36000000", "closeTime": T0},
            ],
        }  # fmt: skip
        return JSONResponse(bodies[path])

    def app(self) -> Starlette:
        async def dispatch(request: Request) -> Response:
            params = dict(request.query_params)
            self.seen.append((request.url.path, params))
            return self.answer(request.url.path.removeprefix("/fapi/v1/"), params)

        endpoints = ("klines", "time", "exchangeInfo", "depth", "aggTrades", "ticker/24hr")
        return Starlette(routes=[Route(f"/fapi/v1/{e}", dispatch) for e in endpoints])


async def test_usdm_pages_klines_1500_rows_at_a_time() -> None:
    fake = FakeFutures()
    async with serve_app(fake.app()) as base, BinanceRest(base, market=USDM) as rest:
        candles = await rest.latest_klines(Topic.of("BTCUSDT", "1m"), 2000)
    assert len(candles) == 2000
    assert [(path, q["limit"]) for path, q in fake.seen] == [
        ("/fapi/v1/klines", "1500"),
        ("/fapi/v1/klines", "500"),
    ]


async def test_usdm_calls_go_to_fapi_and_parse_as_futures() -> None:
    fake = FakeFutures()
    async with serve_app(fake.app()) as base, BinanceRest(base, market=USDM) as rest:
        listings = await rest.exchange_info()
        snapshot = await rest.depth_snapshot("BTCUSDT", limit=500)
        trades = await rest.agg_trades("BTCUSDT", from_id=1234, limit=3)
        tickers = await rest.tickers_24h()
        now = await rest.server_time()
    assert [s.symbol for s in listings] == ["BTCUSDT"]
    assert (snapshot.last_update, snapshot.event_time) == (77, T0 + 5)
    assert [t.id for t in trades] == [1234, 1235, 1236]
    assert [t.symbol for t in tickers] == ["BTCUSDT"]
    assert now == T0
    assert fake.seen == [
        ("/fapi/v1/exchangeInfo", {}),
        ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "500"}),
        ("/fapi/v1/aggTrades", {"symbol": "BTCUSDT", "limit": "3", "fromId": "1234"}),
        ("/fapi/v1/ticker/24hr", {}),
        ("/fapi/v1/time", {}),
    ]


async def test_usdm_refuses_what_binance_would_before_asking() -> None:
    fake = FakeFutures()
    async with serve_app(fake.app()) as base, BinanceRest(base, market=USDM) as rest:
        with pytest.raises(InvalidInterval, match="1m"):
            await rest.klines(Topic.of("BTCUSDT", "1s"))
        with pytest.raises(ValueError, match="futures depth limit"):
            await rest.depth_snapshot("BTCUSDT", limit=25)
        with pytest.raises(ValueError, match="limit"):
            await rest.klines(Topic.of("BTCUSDT", "1m"), limit=1501)
        with pytest.raises(ValueError, match="limit"):
            await rest.agg_trades("BTCUSDT", limit=1001)
    assert fake.seen == []


async def test_usdm_client_budgets_the_futures_weight_limit() -> None:
    async with BinanceRest("http://127.0.0.1:9", market=USDM, rng=random.Random(1)) as rest:
        assert rest.weight_limit == 2400
        assert rest.market is USDM
