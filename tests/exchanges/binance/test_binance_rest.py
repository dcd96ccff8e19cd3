"""BinanceRest against a real HTTP server on 127.0.0.1 that answers like Binance."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from marketcast.domain.candles import TimeRange
from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeUnavailable, RateLimited
from marketcast.exchanges.binance import BinanceRest, RequestRejected

pytestmark = pytest.mark.timeout(30)

MINUTE_MS = 60_000
T0 = 1_700_000_040_000  # a minute boundary
BTC_1M = Topic.of("BTCUSDT", "1m")


@dataclass
class FakeBinance:
    """Klines ``T0 .. T0 + (length-1) min`` (minus ``missing``), plus scripted failures."""

    length: int = 2500
    missing: set[int] = field(default_factory=set)
    failures: list[Response] = field(default_factory=list)
    seen: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    weight: int = 0

    def row(self, open_time: int) -> list[object]:
        i = (open_time - T0) // MINUTE_MS
        price = f"{100 + i}.00000000"
        return [
            open_time, price, price, price, price, "1.5", open_time + MINUTE_MS - 1,
            "150.0", i, "0.5", "50.0", "0",
        ]  # fmt: skip

    async def klines(self, request: Request) -> Response:
        q = request.query_params
        if q["symbol"] != "BTCUSDT":
            return JSONResponse({"code": -1121, "msg": "Invalid symbol."}, status_code=400)
        start, end = q.get("startTime"), q.get("endTime")
        limit = int(q.get("limit", "500"))
        times = [
            T0 + i * MINUTE_MS for i in range(self.length) if T0 + i * MINUTE_MS not in self.missing
        ]
        times = [
            t for t in times
            if (start is None or t >= int(start)) and (end is None or t <= int(end))
        ]  # fmt: skip
        chosen = times[:limit] if start is not None else times[-limit:]
        return JSONResponse([self.row(t) for t in chosen])

    async def time(self, request: Request) -> Response:
        return JSONResponse({"serverTime": T0 + 123})

    async def exchange_info(self, request: Request) -> Response:
        symbol = {
            "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "stepSize": "0.00001000"},
            ],
        }  # fmt: skip
        return JSONResponse({"timezone": "UTC", "symbols": [symbol]})

    def app(self) -> Starlette:
        routes = {
            "/api/v3/klines": self.klines,
            "/api/v3/time": self.time,
            "/api/v3/exchangeInfo": self.exchange_info,
        }

        async def dispatch(request: Request) -> Response:
            self.seen.append((time.monotonic(), request.url.path, dict(request.query_params)))
            self.weight += 2
            response = (
                self.failures.pop(0) if self.failures else await routes[request.url.path](request)
            )
            response.headers["X-MBX-USED-WEIGHT-1M"] = str(self.weight)
            return response

        return Starlette(routes=[Route(path, dispatch) for path in routes])


@contextlib.asynccontextmanager
async def serving(fake: FakeBinance) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(fake.app(), lifespan="off", ws="none", http="h11", log_level="error")
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


@contextlib.asynccontextmanager
async def client_for(fake: FakeBinance, *, max_attempts: int = 6) -> AsyncIterator[BinanceRest]:
    async with (
        serving(fake) as base,
        BinanceRest(base, rng=random.Random(1), max_attempts=max_attempts) as rest,
    ):
        yield rest


def open_times(fake: FakeBinance) -> list[int]:
    return [t for t in (T0 + i * MINUTE_MS for i in range(fake.length)) if t not in fake.missing]


async def test_range_pages_across_more_than_1000_rows() -> None:
    fake = FakeBinance(length=2500, missing={T0 + 1500 * MINUTE_MS})
    pages: list[int] = []
    async with client_for(fake) as rest:
        rng = TimeRange(T0 + 10 * MINUTE_MS, T0 + 2400 * MINUTE_MS)
        candles = await rest.klines_range(BTC_1M, rng, closed_before=None, on_page=pages.append)
    expected = [t for t in open_times(fake) if rng.contains(t)]
    assert [c.open_time for c in candles] == expected
    assert pages == [1000, 1000, 390]
    assert all(int(q["limit"]) == 1000 for _, _, q in fake.seen)
    assert candles[-1].open == 100 + 2400  # the fake prices row i at 100 + i


async def test_range_closedness_follows_the_cutoff() -> None:
    fake = FakeBinance(length=20)
    async with client_for(fake) as rest:
        rng = TimeRange(T0, T0 + 19 * MINUTE_MS)
        cutoff = T0 + 15 * MINUTE_MS  # candles 0..14 have closed by then
        candles = await rest.klines_range(BTC_1M, rng, closed_before=cutoff)
    assert [c.closed for c in candles] == [True] * 15 + [False] * 5


async def test_klines_without_cutoff_treat_only_the_newest_as_forming() -> None:
    fake = FakeBinance(length=10)
    async with client_for(fake) as rest:
        candles = await rest.klines(BTC_1M, limit=5)
    assert [c.open_time for c in candles] == open_times(fake)[-5:]
    assert [c.closed for c in candles] == [True, True, True, True, False]


async def test_latest_klines_pages_backwards_past_1000() -> None:
    fake = FakeBinance(length=2500)
    async with client_for(fake) as rest:
        candles = await rest.latest_klines(BTC_1M, 2200)
    assert [c.open_time for c in candles] == open_times(fake)[-2200:]
    assert [c.closed for c in candles].count(False) == 1
    assert not candles[-1].closed
    assert "startTime" not in fake.seen[0][2]
    assert [int(q["limit"]) for _, _, q in fake.seen] == [1000, 1000, 200]


async def test_latest_klines_stops_at_the_start_of_history() -> None:
    fake = FakeBinance(length=300)
    async with client_for(fake) as rest:
        candles = await rest.latest_klines(BTC_1M, 1000)
    assert len(candles) == 300
    assert len(fake.seen) == 1


async def test_429_waits_retry_after_then_succeeds() -> None:
    fake = FakeBinance(failures=[Response(status_code=429, headers={"Retry-After": "1"})])
    async with client_for(fake) as rest:
        assert await rest.server_time() == T0 + 123
        stats = rest.stats
    (first, *_), (second, *_) = fake.seen
    assert second - first >= 0.9  # Retry-After was honoured, not a speed assertion
    assert (stats.requests, stats.retries, stats.rate_limited) == (2, 1, 1)


async def test_rate_limit_makes_concurrent_callers_wait_too() -> None:
    fake = FakeBinance(failures=[Response(status_code=429, headers={"Retry-After": "1"})])
    async with client_for(fake) as rest:
        first = asyncio.create_task(rest.server_time())
        async with asyncio.timeout(5):
            while rest.stats.rate_limited == 0:
                await asyncio.sleep(0.01)
        await rest.server_time()  # a caller that never saw the 429
        await first
    limited_at = fake.seen[0][0]
    assert all(at - limited_at >= 0.9 for at, _, _ in fake.seen[1:])


async def test_418_ban_is_honoured_then_retried() -> None:
    fake = FakeBinance(failures=[Response(status_code=418, headers={"Retry-After": "1"})])
    async with client_for(fake) as rest:
        info = await rest.exchange_info()
    assert [s.symbol for s in info] == ["BTCUSDT"]
    assert fake.seen[1][0] - fake.seen[0][0] >= 0.9


async def test_rate_limited_is_raised_when_attempts_run_out() -> None:
    fake = FakeBinance(failures=[Response(status_code=429, headers={"Retry-After": "0"})] * 3)
    async with client_for(fake, max_attempts=2) as rest:
        with pytest.raises(RateLimited) as caught:
            await rest.server_time()
    assert caught.value.status == 429
    assert len(fake.seen) == 2


async def test_5xx_is_retried_with_backoff() -> None:
    fake = FakeBinance(failures=[Response(status_code=503), Response(status_code=500)])
    async with client_for(fake) as rest:
        candles = await rest.klines(BTC_1M, start=T0, limit=3)
        assert rest.stats.retries == 2
    assert [c.open_time for c in candles] == open_times(fake)[:3]


async def test_persistent_5xx_gives_up_after_max_attempts() -> None:
    fake = FakeBinance(failures=[Response(status_code=502)] * 10)
    async with client_for(fake, max_attempts=3) as rest:
        with pytest.raises(ExchangeUnavailable):
            await rest.server_time()
    assert len(fake.seen) == 3


async def test_binance_error_code_is_not_retried() -> None:
    fake = FakeBinance()
    async with client_for(fake) as rest:
        with pytest.raises(RequestRejected) as caught:
            await rest.klines(Topic.of("NOPEUSDT", "1m"))
    assert (caught.value.status, caught.value.code, caught.value.msg) == (
        400,
        -1121,
        "Invalid symbol.",
    )
    assert len(fake.seen) == 1


async def test_unreachable_exchange_is_unavailable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    async with BinanceRest(f"http://127.0.0.1:{port}", max_attempts=2) as rest:
        with pytest.raises(ExchangeUnavailable):
            await rest.server_time()
        assert rest.stats.retries == 1


async def test_used_weight_header_is_recorded() -> None:
    fake = FakeBinance()
    async with client_for(fake) as rest:
        await rest.server_time()
        await rest.server_time()
        assert rest.stats.weight_used_last == 4
        assert rest.stats.requests == 2
