"""The simulator's trades and order book: pure rules, and REST over a loopback socket."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from marketcast.exchanges.sim import FaultSchedule, InvalidFaultSchedule, SimConfig, SimExchange
from marketcast.exchanges.sim.truth.book import BOOK_LEVELS, PRICE_SCALE, SLOT_MS, BookState
from marketcast.exchanges.sim.truth.ground_truth import GroundTruth
from marketcast.exchanges.sim.truth.tape import Tape

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
FROZEN_WALL_S = 1_800_000_000.0
SYMBOL = "BTCUSDT"


def paused_sim() -> SimExchange:
    config = SimConfig(start_ms=START_MS, start_paused=True)
    return SimExchange(config, wall_time=lambda: FROZEN_WALL_S)


def apply_diff(book: BookState, bids: Any, asks: Any) -> tuple[dict[int, int], dict[int, int]]:
    sides = (dict(book.bids), dict(book.asks))
    for side, changes in zip(sides, (bids, asks), strict=True):
        for price, qty in changes:
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty
    return sides


def test_book_is_deterministic_ordered_and_uncrossed() -> None:
    first = GroundTruth(Tape(7, (SYMBOL,), START_MS)).book(SYMBOL, START_MS)
    again = GroundTruth(Tape(7, (SYMBOL,), START_MS)).book(SYMBOL, START_MS + SLOT_MS - 1)
    assert first == again
    assert len(first.bids) == len(first.asks) == BOOK_LEVELS
    assert [p for p, _ in first.bids] == sorted((p for p, _ in first.bids), reverse=True)
    assert [p for p, _ in first.asks] == sorted(p for p, _ in first.asks)
    assert first.bids[0][0] < first.asks[0][0]
    assert all(q > 0 for _, q in first.bids + first.asks)


def test_diffs_chain_and_rebuild_the_later_book_exactly() -> None:
    truth = GroundTruth(Tape(7, (SYMBOL,), START_MS))
    model = truth.books[SYMBOL]
    start = model.update_id(START_MS)
    for old, new in ((start, start + 1), (start + 1, start + 7), (start + 7, start + 900)):
        diff = model.diff(old, new)
        assert (diff.first_id, diff.last_id) == (old + 1, new)
        target = truth.book_at(SYMBOL, new)
        assert apply_diff(truth.book_at(SYMBOL, old), diff.bids, diff.asks) == (
            dict(target.bids),
            dict(target.asks),
        )
    assert not model.diff(start, start + 1).empty  # a few levels refresh every batch


def test_truth_trades_by_id_and_by_time_agree() -> None:
    truth = GroundTruth(Tape(7, (SYMBOL,), START_MS))
    by_time = truth.trades(SYMBOL, start_ms=START_MS - 2_000, end_ms=START_MS)
    assert by_time[0].time >= START_MS - 2_000
    assert by_time[-1].time <= START_MS
    ids = [t.trade_id for t in by_time]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert truth.trades(SYMBOL, from_id=ids[0], end_ms=START_MS) == by_time
    assert truth.trades(SYMBOL, from_id=0, end_ms=truth.tape.listing_ms(SYMBOL))[0].trade_id == 0


def test_schedule_grammar_knows_the_market_faults() -> None:
    schedule = FaultSchedule.parse("depth_gap@1s, depth_gap:2@2s, trade_gap:5@3s")
    assert str(schedule) == "depth_gap@1s,depth_gap:2@2s,trade_gap:5@3s"
    with pytest.raises(InvalidFaultSchedule):
        FaultSchedule.parse("trade_gap@1s")


async def test_trades_rest_is_the_newest_trades_with_binance_fields() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        response = await client.get("/api/v3/trades", params={"symbol": SYMBOL, "limit": 7})
        assert response.status_code == 200
        assert response.headers["X-MBX-USED-WEIGHT-1M"] == "25"
        rows = response.json()
        assert len(rows) == 7
        assert set(rows[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker",
                                "isBestMatch"}  # fmt: skip
        truth = exchange.truth.trades(SYMBOL, from_id=rows[0]["id"], end_ms=START_MS)
        assert [r["id"] for r in rows] == [t.trade_id for t in truth]
        assert rows[-1]["time"] <= START_MS < truth[-1].time + 1_000
        spec = exchange.truth.tape.spec(SYMBOL)
        assert float(rows[0]["price"]) == truth[0].price / spec.tick_scale
        refused = await client.get("/api/v3/trades", params={"symbol": SYMBOL, "limit": 1001})
        assert (refused.status_code, refused.json()["code"]) == (400, -1130)


async def test_agg_trades_select_by_id_by_time_and_newest() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        newest = (await client.get("/api/v3/aggTrades", params={"symbol": SYMBOL})).json()
        assert len(newest) == 500
        assert set(newest[0]) == set("apqflTmM")
        assert all(r["a"] == r["f"] == r["l"] for r in newest)
        first = newest[0]["a"]
        by_id = await client.get(
            "/api/v3/aggTrades", params={"symbol": SYMBOL, "fromId": first, "limit": 10}
        )
        assert by_id.headers["X-MBX-USED-WEIGHT-1M"] == "8"  # 4 per call, cumulative
        assert by_id.json() == newest[:10]
        window: dict[str, str | int] = {
            "symbol": SYMBOL,
            "startTime": newest[0]["T"],
            "endTime": START_MS,
        }
        by_time = (await client.get("/api/v3/aggTrades", params=window)).json()
        assert by_time[0]["T"] == newest[0]["T"]
        assert by_time[-1] == newest[-1]
        too_long: dict[str, str | int] = {
            "symbol": SYMBOL,
            "startTime": START_MS - 3_600_000,
            "endTime": START_MS,
        }
        refused = await client.get("/api/v3/aggTrades", params=too_long)
        assert (refused.status_code, refused.json()["code"]) == (400, -1127)


async def test_depth_snapshot_is_the_true_book_with_weight_by_limit() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as client:
        small = await client.get("/api/v3/depth", params={"symbol": SYMBOL, "limit": 5})
        assert small.headers["X-MBX-USED-WEIGHT-1M"] == "5"
        body = small.json()
        assert set(body) == {"lastUpdateId", "bids", "asks"}
        assert len(body["bids"]) == len(body["asks"]) == 5
        truth = exchange.truth.book(SYMBOL, START_MS)
        assert body["lastUpdateId"] == truth.update_id
        spec = exchange.truth.tape.spec(SYMBOL)
        scale = spec.tick_scale * PRICE_SCALE
        assert [Decimal(p) for p, _ in body["bids"]] == [
            Decimal(p) / scale for p, _ in truth.bids[:5]
        ]
        assert exchange.book_at(SYMBOL, truth.update_id) == truth
        huge = await client.get("/api/v3/depth", params={"symbol": SYMBOL, "limit": 6000})
        assert huge.headers["X-MBX-USED-WEIGHT-1M"] == str(5 + 250)
        assert len(huge.json()["asks"]) == BOOK_LEVELS
        default = (await client.get("/api/v3/depth", params={"symbol": SYMBOL})).json()
        assert len(default["bids"]) == 100
        unknown = await client.get("/api/v3/depth", params={"symbol": "NOPEUSDT"})
        assert unknown.json()["code"] == -1121
