"""Aggregated book views: exact buckets (bids down, asks up), totals and display strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.book_side import Level
from marketcast.domain.book_view import (
    ViewCache,
    ViewLevel,
    aggregate,
    bucket_down,
    bucket_up,
    price_precision,
)
from marketcast.domain.formatting import format_fixed
from marketcast.domain.orderbook import BookDiff, BookSnapshot, OrderBook, SyncRule

D = Decimal


def book_of(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    book = OrderBook(SyncRule.SPOT)
    book.on_snapshot(
        BookSnapshot(
            1,
            tuple((D(p), D(q)) for p, q in bids),
            tuple((D(p), D(q)) for p, q in asks),
            event_time=1_700_000_000_000,
        )
    )
    return book


def rows(levels: tuple[ViewLevel, ...]) -> list[tuple[str, str, str]]:
    return [(lv.price_formatted, lv.amount_formatted, lv.cumulative_formatted) for lv in levels]


# --- worked vectors ------------------------------------------------------------------


def test_rounding_a_tenth_buckets_bids_down_and_asks_up() -> None:
    book = book_of(
        bids=[("67000.05", "1.5"), ("67000.01", "0.25"), ("66999.99", "2")],
        asks=[("67000.11", "0.5"), ("67000.15", "1"), ("67000.20", "0.3"), ("67000.21", "4")],
    )
    view = aggregate(book, limit=10, rounding=D("0.1"), amount_precision=3)
    # 67000.05 and 67000.01 -> 67000.0; 66999.99 -> 66999.9
    assert [(b.price, b.amount, b.cumulative) for b in view.bids] == [
        (D("67000.0"), D("1.75"), D("1.75")),
        (D("66999.9"), D("2"), D("3.75")),
    ]
    # 67000.11, 67000.15 and 67000.20 (already a multiple) -> 67000.2; 67000.21 -> 67000.3
    assert [(a.price, a.amount, a.cumulative) for a in view.asks] == [
        (D("67000.2"), D("1.8"), D("1.8")),
        (D("67000.3"), D("4"), D("5.8")),
    ]
    assert rows(view.bids) == [("67000.0", "1.750", "1.750"), ("66999.9", "2.000", "3.750")]
    assert rows(view.asks) == [("67000.2", "1.800", "1.800"), ("67000.3", "4.000", "5.800")]
    assert view.price_precision == 1
    assert view.last_update == 1
    assert view.event_time == 1_700_000_000_000
    depth = view.depth
    assert (depth.total_bid_volume, depth.total_ask_volume) == (D("3.75"), D("5.8"))
    assert (depth.best_bid, depth.best_ask) == (D("67000.05"), D("67000.11"))
    assert depth.spread == D("0.06")
    assert depth.mid_price == D("67000.08")
    assert (depth.requested_levels, depth.actual_levels) == (10, 2)
    assert depth.is_market_depth_limited
    assert (depth.raw_bids_count, depth.raw_asks_count) == (3, 4)
    assert depth.min_required_raw_data == 100
    assert depth.has_insufficient_raw_data


def test_rounding_ten_shows_whole_numbers() -> None:
    book = book_of(
        bids=[("67005", "1"), ("67000.00", "2"), ("66999.99", "3")],
        asks=[("67000.01", "1"), ("67010", "2"), ("67010.5", "0.5")],
    )
    view = aggregate(book, limit=5, rounding=D(10), amount_precision=1)
    assert rows(view.bids) == [("67000", "3.0", "3.0"), ("66990", "3.0", "6.0")]
    assert rows(view.asks) == [("67010", "3.0", "3.0"), ("67020", "0.5", "3.5")]


def test_rounding_a_quarter_keeps_two_decimals() -> None:
    book = book_of(bids=[("100.30", "1"), ("100.25", "1")], asks=[("100.30", "1"), ("100.5", "2")])
    view = aggregate(book, limit=5, rounding=D("0.25"), amount_precision=0)
    assert rows(view.bids) == [("100.25", "2", "2")]
    assert rows(view.asks) == [("100.50", "3", "3")]


def test_limit_keeps_the_best_buckets_whole() -> None:
    book = book_of(
        bids=[("10.9", "1"), ("10.5", "1"), ("10.0", "1"), ("9.9", "4"), ("8.1", "8")],
        asks=[("11.1", "1"), ("12", "1"), ("12.5", "2")],  # buckets 12 and 13
    )
    view = aggregate(book, limit=2, rounding=D(1), amount_precision=0)
    assert rows(view.bids) == [("10", "3", "3"), ("9", "4", "7")]
    assert rows(view.asks) == [("12", "2", "2"), ("13", "2", "4")]
    assert not view.depth.is_market_depth_limited
    assert view.depth.total_bid_volume == D(7)


def test_sums_are_exact_decimals_not_floats() -> None:
    book = book_of(bids=[("5.01", "0.1"), ("5.02", "0.2")], asks=[])
    view = aggregate(book, limit=1, rounding=D("0.1"), amount_precision=17)
    assert view.bids[0].amount == D("0.3")  # 0.1 + 0.2 as floats is 0.30000000000000004
    assert view.bids[0].amount_formatted == "0.30000000000000000"


def test_empty_sides_give_an_empty_view_without_spread() -> None:
    view = aggregate(OrderBook(SyncRule.SPOT), limit=5, rounding=D(1), amount_precision=2)
    assert view.bids == view.asks == ()
    assert view.depth.spread is None
    assert view.depth.mid_price is None
    assert view.depth.total_bid_volume == D(0)
    assert view.last_update is None


@pytest.mark.parametrize(
    ("rounding", "places"),
    [("10", 0), ("1", 0), ("1.0", 0), ("1E+1", 0), ("0.5", 1), ("0.25", 2), ("0.01", 2),
     ("0.00001", 5)],
)  # fmt: skip
def test_price_precision_follows_the_rounding(rounding: str, places: int) -> None:
    assert price_precision(D(rounding)) == places


def test_fixed_rounds_half_up_and_never_uses_exponents() -> None:
    assert format_fixed(D("0.125"), 2) == "0.13"
    assert format_fixed(D("1E+3"), 0) == "1000"
    assert format_fixed(D("1E-8"), 8) == "0.00000001"
    assert format_fixed(D("67000"), 2) == "67000.00"


@pytest.mark.parametrize("rounding", ["0", "-1", "NaN", "Infinity"])
def test_invalid_rounding_is_refused(rounding: str) -> None:
    with pytest.raises(ValueError, match="rounding"):
        aggregate(OrderBook(SyncRule.SPOT), limit=5, rounding=D(rounding), amount_precision=2)


def test_invalid_limit_or_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        aggregate(OrderBook(SyncRule.SPOT), limit=0, rounding=D(1), amount_precision=2)
    with pytest.raises(ValueError, match="precision"):
        aggregate(OrderBook(SyncRule.SPOT), limit=1, rounding=D(1), amount_precision=-1)


# --- the shared cache ----------------------------------------------------------------


def test_cache_computes_each_params_once_per_book_version() -> None:
    book = book_of(bids=[("10", "1")], asks=[("11", "1")])
    cache = ViewCache(book, amount_precision=2)
    first = cache.view(10, D("0.1"))
    assert cache.view(10, D("0.10")) is first  # equal decimals are the same parameters
    assert cache.computed == 1
    cache.view(5, D("0.1"))
    assert cache.computed == 2
    book.on_diff(BookDiff(2, 2, None, ((D(10), D(3)),), (), event_time=5))
    fresh = cache.view(10, D("0.1"))
    assert fresh is not first
    assert fresh.bids[0].amount == D(3)
    assert cache.computed == 3
    assert cache.view(10, D("0.1")) is fresh


# --- properties ----------------------------------------------------------------------

ROUNDINGS = [D(s) for s in ("0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "10", "100")]
prices = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)
quantities = st.decimals(min_value=D("0.00001"), max_value=D(1000), places=5)


@given(price=prices, rounding=st.sampled_from(ROUNDINGS))
def test_buckets_are_the_nearest_multiples_on_the_right_side(
    price: Decimal, rounding: Decimal
) -> None:
    down, up = bucket_down(price, rounding), bucket_up(price, rounding)
    assert down % rounding == 0
    assert up % rounding == 0
    assert down <= price < down + rounding
    assert up - rounding < price <= up


@st.composite
def books(draw: st.DrawFn) -> OrderBook:
    mid = draw(st.decimals(min_value=D(1), max_value=D(50_000), places=2))
    levels = st.lists(st.tuples(st.decimals(D("0.01"), D(500), places=2), quantities), max_size=30)
    bids: list[Level] = [(mid - offset, q) for offset, q in draw(levels) if mid - offset > 0]
    asks: list[Level] = [(mid + offset, q) for offset, q in draw(levels)]
    book = OrderBook(SyncRule.SPOT)
    book.on_snapshot(BookSnapshot(1, tuple(bids), tuple(asks)))
    return book


@given(book=books(), rounding=st.sampled_from(ROUNDINGS), limit=st.integers(1, 40))
def test_views_never_cross_and_totals_only_grow(
    book: OrderBook, rounding: Decimal, limit: int
) -> None:
    view = aggregate(book, limit, rounding, amount_precision=5)
    if view.bids and view.asks:
        assert view.bids[0].price < view.asks[0].price
    for side, descending in ((view.bids, True), (view.asks, False)):
        assert len(side) <= limit
        shown = [level.price for level in side]
        assert shown == sorted(shown, reverse=descending)
        assert len(set(shown)) == len(shown)
        running = D(0)
        for level in side:
            assert level.amount > 0
            running += level.amount
            assert level.cumulative == running
    assert view.depth.total_bid_volume == (view.bids[-1].cumulative if view.bids else 0)


@given(book=books(), rounding=st.sampled_from(ROUNDINGS))
def test_an_unlimited_view_accounts_for_every_unit_exactly(
    book: OrderBook, rounding: Decimal
) -> None:
    view = aggregate(book, 10_000, rounding, amount_precision=5)
    assert sum((level.amount for level in view.bids), D(0)) == sum(q for _, q in book.bids)
    assert sum((level.amount for level in view.asks), D(0)) == sum(q for _, q in book.asks)
    for price, _ in book.bids:
        assert any(b.price == bucket_down(price, rounding) for b in view.bids)
    for price, _ in book.asks:
        assert any(a.price == bucket_up(price, rounding) for a in view.asks)
