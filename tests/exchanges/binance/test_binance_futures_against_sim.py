"""The adapter's USD-M side against the simulator's futures: REST, routed streams, truth."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from marketcast.domain.topics import Topic
from marketcast.exchanges.binance import USDM, BinanceRest, stream_base
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.markets import StreamKind
from marketcast.exchanges.binance.messages import KlineUpdate, LiquidationEvent, StreamEvent
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.exchanges.binance.weights import depth_weight, fixed_weight, klines_weight
from marketcast.exchanges.sim import SimConfig, SimExchange

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
BTC_1M = Topic.of("BTCUSDT", "1m")


def sim() -> SimExchange:
    return SimExchange(
        SimConfig(start_ms=START_MS, speed=10, push_interval_s=0.1, futures_symbols=("BTCUSDT",))
    )


def futures_rest(exchange: SimExchange) -> BinanceRest:
    return BinanceRest(exchange.rest_base, market=USDM)


def futures_stream(exchange: SimExchange, kind: StreamKind) -> KlineStream:
    backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(9))
    base = stream_base(exchange.ws_base, USDM, kind)
    return KlineStream(base, backoff=backoff, data_timeout=3.0, market=USDM)


async def collect(
    events: AsyncIterator[StreamEvent], wanted: Callable[[StreamEvent], bool], count: int
) -> list[StreamEvent]:
    """The first ``count`` events ``wanted`` accepts (bounded by a timeout)."""
    found: list[StreamEvent] = []
    async with asyncio.timeout(10):
        async for event in events:
            if wanted(event):
                found.append(event)
                if len(found) == count:
                    return found
    raise AssertionError(f"stream ended after {found}")


# --- REST ----------------------------------------------------------------------------------


async def test_usdm_klines_page_1500_rows_and_match_the_truth() -> None:
    async with sim() as exchange, futures_rest(exchange) as rest:
        exchange.clock.pause()
        now = exchange.clock.now_ms()
        latest = await rest.latest_klines(BTC_1M, 2000)
        calls = exchange.stats.klines_requests[("/fapi/v1/klines", "BTCUSDT", "1m")]
    assert len(latest) == 2000
    assert calls == 2  # 1500 + 500
    assert latest[:-1] == exchange.futures_truth.klines(
        "BTCUSDT", BTC_1M.interval, latest[0].open_time, latest[-2].open_time, now
    )


async def test_usdm_lists_only_the_sims_perpetuals_and_serves_timed_snapshots() -> None:
    async with sim() as exchange, futures_rest(exchange) as rest:
        exchange.clock.pause()
        now = exchange.clock.now_ms()
        listings = await rest.exchange_info()
        snapshot = await rest.depth_snapshot("BTCUSDT", limit=50)
        recent = await rest.agg_trades("BTCUSDT", limit=20)
        truth = exchange.futures_truth.trades("BTCUSDT", from_id=recent[0].id, end_ms=now)[:20]
    assert [s.symbol for s in listings] == ["BTCUSDT"]
    assert snapshot.event_time is not None
    assert 0 < len(snapshot.bids) <= 50
    assert snapshot.bids[0][0] < snapshot.asks[0][0]
    assert [(t.id, t.time_ms) for t in recent] == [(t.trade_id, t.time) for t in truth]


Call = Callable[[BinanceRest], Awaitable[object]]


def klines_of(limit: int) -> Call:
    return lambda rest: rest.klines(BTC_1M, limit=limit)


USDM_CALLS: dict[str, tuple[Call, int]] = {
    "depth 5": (lambda r: r.depth_snapshot("BTCUSDT", 5), depth_weight(USDM, 5)),
    "depth 100": (lambda r: r.depth_snapshot("BTCUSDT", 100), depth_weight(USDM, 100)),
    "depth 500": (lambda r: r.depth_snapshot("BTCUSDT", 500), depth_weight(USDM, 500)),
    "depth 1000": (lambda r: r.depth_snapshot("BTCUSDT"), depth_weight(USDM, 1000)),
    "aggTrades": (lambda r: r.agg_trades("BTCUSDT"), fixed_weight(USDM, "aggTrades")),
    "exchangeInfo": (lambda r: r.exchange_info(), fixed_weight(USDM, "exchangeInfo")),
    "ticker": (lambda r: r.tickers_24h(), fixed_weight(USDM, "ticker/24hr")),
    "time": (lambda r: r.server_time(), fixed_weight(USDM, "time")),
    **{f"klines {n}": (klines_of(n), klines_weight(USDM, n)) for n in (10, 100, 500, 1001)},
}


@pytest.mark.parametrize("name", USDM_CALLS)
async def test_usdm_client_weighs_each_call_as_the_sim_charges_it(name: str) -> None:
    call, weight = USDM_CALLS[name]
    async with sim() as exchange, futures_rest(exchange) as rest:
        await call(rest)
        assert rest.stats.weight_used_last == weight


# --- routed streams ------------------------------------------------------------------------


async def test_futures_depth_on_public_chains_by_previous_final() -> None:
    async with sim() as exchange, futures_stream(exchange, "depth") as stream:
        await stream.add_streams(["btcusdt@depth@100ms"])
        diffs = await collect(stream.events(), lambda e: isinstance(e, DepthEvent), 5)
    chain = [e.diff for e in diffs if isinstance(e, DepthEvent)]
    assert all(d.previous_final is not None for d in chain)
    assert all(b.previous_final == a.final_update for a, b in itertools.pairwise(chain))


async def test_force_orders_on_market_are_the_sims_liquidations() -> None:
    async with sim() as exchange, futures_stream(exchange, "forceOrder") as stream:
        await stream.add_streams(["btcusdt@forceOrder"])
        await stream.add_topics([BTC_1M])
        events = stream.events()
        found = await collect(events, lambda e: isinstance(e, LiquidationEvent), 2)
        klines = await collect(events, lambda e: isinstance(e, KlineUpdate), 1)
    for event in found:
        assert isinstance(event, LiquidationEvent)
        t = event.liquidation.time_ms
        (truth,) = exchange.futures_truth.liquidations("BTCUSDT", t, t)
        assert event.liquidation.side == truth.side
        assert event.liquidation.quantity > 0
    assert isinstance(klines[0], KlineUpdate)
    assert klines[0].topic == BTC_1M
