"""The simulator's USD-M REST (``/fapi/v1``) and liquidation history over a loopback socket."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from marketcast.domain.intervals import MINUTE_MS, Interval
from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.exchanges.sim.runtime import BASIS
from marketcast.exchanges.sim.wire.futures import FuturesFormatter
from marketcast.exchanges.sim.wire.spot import KlineFormatter, precise_text

pytestmark = pytest.mark.timeout(30)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
FROZEN_WALL_S = 1_800_000_000.0
SYMBOL = "BTCUSDT"
FUTURES = ("BTCUSDT", "ETHUSDT")


def paused_sim(**settings: Any) -> SimExchange:
    config = SimConfig(start_ms=START_MS, start_paused=True, futures_symbols=FUTURES, **settings)
    return SimExchange(config, wall_time=lambda: FROZEN_WALL_S)


async def test_exchange_info_lists_the_perpetuals_with_futures_precisions() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        info = (await http.get("/fapi/v1/exchangeInfo")).json()
    assert [s["symbol"] for s in info["symbols"]] == list(FUTURES)
    btc = info["symbols"][0]
    assert (btc["contractType"], btc["status"]) == ("PERPETUAL", "TRADING")
    assert (btc["baseAsset"], btc["quoteAsset"]) == ("BTC", "USDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001"
    assert (btc["pricePrecision"], btc["quantityPrecision"]) == (2, 5)
    assert info["rateLimits"][0]["limit"] == 2400


async def test_klines_are_the_futures_truth_up_to_1500_per_call() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        params: dict[str, str | int] = {"symbol": SYMBOL, "interval": "1m", "limit": 1500}
        rows = (await http.get("/fapi/v1/klines", params=params)).json()
        unlimited = {"symbol": SYMBOL, "interval": "1m"}
        default = (await http.get("/fapi/v1/klines", params=unlimited)).json()
        too_many = await http.get("/fapi/v1/klines", params={**params, "limit": 1501})
        one_second = await http.get("/fapi/v1/klines", params={**params, "interval": "1s"})
    assert len(rows) == 1500
    assert len(default) == 500
    assert rows[-1][0] == START_MS
    truth = exchange.futures_truth.page(SYMBOL, Interval.parse("1m"), START_MS, 1500)
    formatter = KlineFormatter(exchange.futures_truth.tape.spec(SYMBOL), precise_text)
    assert rows == [formatter.row(kline) for kline in truth]
    assert rows[-1][1] == f"{truth[-1].bar.open / 100:.2f}"  # futures precision, no padding
    assert (too_many.status_code, too_many.json()["code"]) == (400, -1130)
    assert one_second.json()["code"] == -1120


@pytest.mark.parametrize("limit", [5, 10, 20, 50, 100, 500, 1000])
async def test_depth_snapshot_has_futures_fields_at_each_valid_limit(limit: int) -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        snapshot = (
            await http.get("/fapi/v1/depth", params={"symbol": SYMBOL, "limit": limit})
        ).json()
    book = exchange.futures_truth.book(SYMBOL, START_MS)
    assert set(snapshot) == {"lastUpdateId", "E", "T", "bids", "asks"}
    assert snapshot["lastUpdateId"] == book.update_id
    assert snapshot["E"] == START_MS
    assert snapshot["T"] == book.time <= START_MS
    assert len(snapshot["bids"]) == min(limit, len(book.bids))
    assert snapshot == FuturesFormatter(exchange.futures_truth.tape.spec(SYMBOL)).depth_snapshot_at(
        book, limit, START_MS
    )


async def test_depth_refuses_limits_futures_does_not_offer_and_non_perpetuals() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        odd = await http.get("/fapi/v1/depth", params={"symbol": SYMBOL, "limit": 7})
        spot_only = await http.get("/fapi/v1/depth", params={"symbol": "SOLUSDT"})
        spot = await http.get("/api/v3/depth", params={"symbol": "SOLUSDT"})
    assert odd.json()["code"] == -1130
    assert spot_only.json() == {"code": -1121, "msg": "Invalid symbol."}
    assert spot.status_code == 200


async def test_trades_and_agg_trades_have_futures_shapes_and_the_spot_ids() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        trades = (await http.get("/fapi/v1/trades", params={"symbol": SYMBOL, "limit": 3})).json()
        spot = (await http.get("/api/v3/trades", params={"symbol": SYMBOL, "limit": 3})).json()
        params: dict[str, str | int] = {"symbol": SYMBOL, "limit": 5}
        params |= {"startTime": START_MS - 2000, "endTime": START_MS}
        aggs = (await http.get("/fapi/v1/aggTrades", params=params)).json()
        too_many = await http.get("/fapi/v1/trades", params={"symbol": SYMBOL, "limit": 1001})
    assert set(trades[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker"}
    assert [t["id"] for t in trades] == [t["id"] for t in spot]
    assert set(aggs[0]) == set("apqflTm")
    truth = exchange.futures_truth.trades(SYMBOL, start_ms=START_MS - 2000, end_ms=START_MS)
    assert [a["a"] for a in aggs] == [t.trade_id for t in truth[:5]]
    assert too_many.json()["code"] == -1130


async def test_ticker_24hr_has_the_futures_fields() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        one = (await http.get("/fapi/v1/ticker/24hr", params={"symbol": SYMBOL})).json()
        every = (await http.get("/fapi/v1/ticker/24hr")).json()
        spot = (await http.get("/api/v3/ticker/24hr", params={"symbol": SYMBOL})).json()
    assert {"volume", "quoteVolume", "lastPrice", "priceChangePercent"} <= set(one)
    assert "bidPrice" not in one
    assert [t["symbol"] for t in every] == list(FUTURES)
    # The perpetual's tape is spot's twin at a small basis: the same moves, its own prices.
    assert float(one["lastPrice"]) == pytest.approx(
        float(spot["lastPrice"]) * (1 + BASIS), rel=1e-4
    )
    assert float(one["lastPrice"]) != float(spot["lastPrice"])
    assert one["count"] == spot["count"]


async def test_futures_weights_count_against_their_own_2400_budget() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:

        async def used(path: str, **params: Any) -> int:
            response = await http.get(path, params=params)
            assert response.status_code == 200, response.text
            return int(response.headers["X-MBX-USED-WEIGHT-1M"])

        steps = [
            await used("/fapi/v1/time"),
            await used("/fapi/v1/exchangeInfo"),
            await used("/fapi/v1/klines", symbol=SYMBOL, interval="1m", limit=1500),
            await used("/fapi/v1/depth", symbol=SYMBOL, limit=5),
            await used("/fapi/v1/depth", symbol=SYMBOL, limit=1000),
            await used("/fapi/v1/trades", symbol=SYMBOL),
            await used("/fapi/v1/aggTrades", symbol=SYMBOL),
            await used("/fapi/v1/ticker/24hr", symbol=SYMBOL),
            await used("/fapi/v1/ticker/24hr"),
        ]
        spot = await used("/api/v3/time")
    weights = [b - a for a, b in zip([0, *steps], steps, strict=False)]
    assert weights == [1, 1, 10, 2, 20, 5, 20, 1, 40]
    assert spot == 1  # spot has its own budget


async def test_futures_429_then_418_leave_spot_serving() -> None:
    async with (
        paused_sim(futures_weight_limit_per_minute=12) as exchange,
        httpx.AsyncClient(base_url=exchange.rest_base) as http,
    ):
        params: dict[str, str | int] = {"symbol": SYMBOL, "limit": 1000}
        first = await http.get("/fapi/v1/depth", params={**params, "limit": 500})
        told = await http.get("/fapi/v1/depth", params=params)
        statuses = [(await http.get("/fapi/v1/time")).status_code for _ in range(2)]
        spot = await http.get("/api/v3/time")
    assert first.status_code == 200
    assert told.status_code == 429
    assert int(told.headers["Retry-After"]) >= 1
    assert statuses == [429, 418]
    assert spot.status_code == 200


async def test_rest_faults_reach_futures_and_can_target_one_market() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        exchange.faults.rest_errors(503, 1, market="usdm")
        exchange.faults.rest_errors(502, 1)
        spot = await http.get("/api/v3/time")
        futures = [(await http.get("/fapi/v1/time")).status_code for _ in range(2)]
        exchange.faults.downtime(MINUTE_MS)
        down = await http.get("/fapi/v1/klines", params={"symbol": SYMBOL, "interval": "1m"})
    assert spot.status_code == 502  # the unscoped error goes to whoever asks first
    assert futures == [503, 200]
    assert down.status_code == 503


async def test_liquidation_history_is_the_force_order_truth_newest_first() -> None:
    async with paused_sim() as exchange, httpx.AsyncClient(base_url=exchange.rest_base) as http:
        latest = (await http.get(f"/liquidation-history/{SYMBOL}")).json()
        window = {"start_time": START_MS - 30_000, "end_time": START_MS - 10_000, "limit": 1000}
        ranged = (await http.get(f"/liquidation-history/{SYMBOL}", params=window)).json()
        few = (await http.get(f"/liquidation-history/{SYMBOL}", params={"limit": 3})).json()
        missing = await http.get("/liquidation-history/SOLUSDT")
        bad = await http.get(f"/liquidation-history/{SYMBOL}", params={"limit": 0})
    formatter = FuturesFormatter(exchange.futures_truth.tape.spec(SYMBOL))
    truth = exchange.futures_truth.liquidations(SYMBOL, START_MS - 600_000, START_MS)
    assert latest["symbol"] == SYMBOL
    assert latest["data"] == [formatter.history_row(x) for x in truth[::-1][:50]]
    assert len(latest["data"]) == 50
    assert set(latest["data"][0]) == {
        "symbol", "side", "order_type", "time_in_force", "original_quantity", "price",
        "average_price", "order_status", "order_last_filled_quantity",
        "order_filled_accumulated_quantity", "order_trade_time",
    }  # fmt: skip
    in_window = exchange.futures_truth.liquidations(SYMBOL, START_MS - 30_000, START_MS - 10_000)
    assert ranged["data"] == [formatter.history_row(x) for x in in_window[::-1]]
    assert few["data"] == latest["data"][:3]
    assert missing.status_code == 404
    assert "detail" in missing.json()
    assert bad.status_code == 400
