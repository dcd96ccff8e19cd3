"""Pure rules behind the simulator's USD-M market: book diffs a futures client can bridge,
liquidations drawn from the tape, stream names and routes."""

from __future__ import annotations

import pytest

from marketcast.domain.intervals import SECOND_MS
from marketcast.exchanges.sim.truth.book import BookState
from marketcast.exchanges.sim.truth.ground_truth import GroundTruth
from marketcast.exchanges.sim.truth.liquidations import LiquidationModel
from marketcast.exchanges.sim.truth.tape import SECOND_LEVEL, Tape
from marketcast.exchanges.sim.wire.streams import (
    DepthStream,
    ForceOrderStream,
    StreamRequestError,
    parse_stream,
    route_of,
)

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
LISTED = frozenset({"BTCUSDT", "DOGEUSDT"})


def applied(book: BookState, bids: object, asks: object) -> tuple[dict[int, int], dict[int, int]]:
    sides = (dict(book.bids), dict(book.asks))
    for side, changes in zip(sides, (bids, asks), strict=True):
        for price, qty in changes:  # type: ignore[attr-defined]
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty
    return sides


@pytest.mark.parametrize("symbol", ["BTCUSDT", "DOGEUSDT"])
def test_a_diff_applied_on_any_book_inside_its_range_gives_the_later_book(symbol: str) -> None:
    # The futures procedure bridges a snapshot lying inside the first event
    # (U <= lastUpdateId <= u): a diff must name every level touched in between.
    truth = GroundTruth(Tape(7, (symbol,), START_MS))
    model = truth.books[symbol]
    first = model.update_id(START_MS)
    for start in range(first, first + 600, 15):
        old, new = start, start + 30
        diff = model.diff(old, new)
        target = truth.book_at(symbol, new)
        expected = (dict(target.bids), dict(target.asks))
        for middle in range(old, new + 1):
            assert applied(truth.book_at(symbol, middle), diff.bids, diff.asks) == expected, (
                old,
                middle,
                new,
            )


def test_liquidations_are_deterministic_one_per_second_at_most_and_frequent() -> None:
    tape = Tape(7, ("BTCUSDT",), START_MS)
    found = LiquidationModel(tape).between("BTCUSDT", START_MS, START_MS + 120_000)
    again = LiquidationModel(Tape(7, ("BTCUSDT",), START_MS)).between(
        "BTCUSDT", START_MS, START_MS + 120_000
    )
    assert found == again
    seconds = [liquidation.time // SECOND_MS for liquidation in found]
    assert len(seconds) == len(set(seconds))
    assert 10 <= len(found) <= 60  # about one every four virtual seconds


def test_a_liquidation_fills_a_real_trade_and_its_side_follows_the_move() -> None:
    tape = Tape(7, ("DOGEUSDT",), START_MS)
    found = LiquidationModel(tape).between("DOGEUSDT", START_MS, START_MS + 300_000)
    assert {liquidation.side for liquidation in found} == {"BUY", "SELL"}
    for liquidation in found:
        second = liquidation.time - liquidation.time % SECOND_MS
        fills = {(t.time, t.price) for t in tape.trades("DOGEUSDT", second)}
        assert (liquidation.time, liquidation.avg_price) in fills
        bar = tape.bar("DOGEUSDT", SECOND_LEVEL, second)
        if bar.close != bar.open:
            assert liquidation.side == ("SELL" if bar.close < bar.open else "BUY")
        # A bankruptcy price lies beyond the fill, on the losing side.
        if liquidation.side == "SELL":
            assert 0 < liquidation.price < liquidation.avg_price
        else:
            assert liquidation.price > liquidation.avg_price
        assert liquidation.qty >= 1


def test_newest_liquidations_walk_back_from_the_end_within_the_window() -> None:
    model = LiquidationModel(Tape(7, ("BTCUSDT",), START_MS))
    window = model.between("BTCUSDT", START_MS - 60_000, START_MS)
    assert model.newest("BTCUSDT", START_MS, 5) == window[::-1][:5]
    assert model.newest("BTCUSDT", START_MS, 500, START_MS - 60_000) == window[::-1]


def test_futures_stream_names_speeds_and_routes() -> None:
    assert parse_stream("btcusdt@depth", LISTED, "usdm") == DepthStream("BTCUSDT", 250)
    assert parse_stream("btcusdt@depth", LISTED) == DepthStream("BTCUSDT", 1000)
    depth = parse_stream("btcusdt@depth@500ms", LISTED, "usdm")
    assert (depth.name, route_of(depth, "usdm")) == ("btcusdt@depth@500ms", "/public")
    force = parse_stream("dogeusdt@forceOrder", LISTED, "usdm")
    assert force == ForceOrderStream("DOGEUSDT")
    assert route_of(force, "usdm") == "/market"
    kline = parse_stream("btcusdt@kline_1m", LISTED, "usdm")
    assert route_of(kline, "usdm") == "/market"
    assert route_of(kline, "spot") == ""


@pytest.mark.parametrize(
    ("name", "market"),
    [("btcusdt@kline_1s", "usdm"), ("btcusdt@trade", "usdm"), ("btcusdt@forceOrder", "spot")],
)
def test_streams_a_market_does_not_have_are_refused(name: str, market: str) -> None:
    with pytest.raises(StreamRequestError):
        parse_stream(name, LISTED, market)  # type: ignore[arg-type]
