"""The local order book: snapshot, changes that chain, and what happens when one does not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketcast.client import OrderBook, OutOfSync
from marketcast.client.book import BookChannel, parse_levels
from marketcast.client.errors import HubError

D = Decimal


def snapshot(last_update_id: int, *, reset: bool = False) -> dict[str, object]:
    return {
        "type": "snapshot",
        "channel": "depth",
        "reset": reset,
        "symbol": "BTCUSDT",
        "market": "spot",
        "last_update_id": last_update_id,
        "bids": [["100.00", "1.0"], ["99.50", "2.0"], ["99.75", "0.5"]],
        "asks": [["100.50", "1.5"], ["101.00", "3.0"]],
    }


def change(
    first: int, last: int, bids: list[list[str]], asks: list[list[str]]
) -> dict[str, object]:
    return {
        "type": "depth",
        "channel": "depth",
        "symbol": "BTCUSDT",
        "market": "spot",
        "first_update_id": first,
        "last_update_id": last,
        "bids": bids,
        "asks": asks,
    }


def test_a_snapshot_is_held_best_first_as_exact_decimals() -> None:
    book = OrderBook()
    book.load(
        parse_levels([["99.5", "2"], ["100.0", "1"]]), parse_levels([["101", "3"]]), 7, exact=True
    )
    assert book.bids == [(D("100.0"), D("1")), (D("99.5"), D("2"))]
    assert book.asks == [(D("101"), D("3"))]
    assert book.best_bid == (D("100.0"), D("1"))
    assert book.best_ask == (D("101"), D("3"))
    assert book.last_update_id == 7


def test_changes_set_levels_and_a_zero_quantity_deletes_one() -> None:
    book = OrderBook()
    book.load(
        parse_levels([["100", "1"], ["99", "2"]]), parse_levels([["101", "3"]]), 10, exact=True
    )
    book.apply(11, 13, parse_levels([["100", "1.5"], ["99", "0"], ["98", "4"]]), [])
    book.apply(14, 14, [], parse_levels([["101", "0.00000000"], ["102", "1"]]))
    assert book.bids == [(D("100"), D("1.5")), (D("98"), D("4"))]
    assert book.asks == [(D("102"), D("1"))]
    assert book.last_update_id == 14


def test_deleting_a_level_never_held_is_harmless() -> None:
    book = OrderBook()
    book.load([], [], 1, exact=True)
    book.apply(2, 2, parse_levels([["50", "0"]]), [])
    assert book.bids == []
    assert book.best_bid is None


def test_a_change_that_does_not_continue_the_book_is_refused_untouched() -> None:
    book = OrderBook()
    book.load(parse_levels([["100", "1"]]), [], 10, exact=True)
    with pytest.raises(OutOfSync, match="does not continue"):
        book.apply(12, 13, parse_levels([["100", "0"]]), [])
    assert book.bids == [(D("100"), D("1"))]
    with pytest.raises(OutOfSync):
        OrderBook().apply(1, 1, [], [])  # nothing loaded yet


def synced(channel: BookChannel) -> bool:
    """Read through a call: the flag changes under methods mypy cannot see into."""
    return channel.synced


def test_the_channel_asks_for_a_fresh_snapshot_and_ignores_the_old_changes_meanwhile() -> None:
    channel = BookChannel("BTCUSDT", "spot")
    assert channel.subscription() == {
        "op": "subscribe",
        "channel": "depth",
        "symbol": "BTCUSDT",
        "market": "spot",
    }
    assert channel.receive(snapshot(10)) == [channel.book]
    assert synced(channel)
    assert channel.receive(change(11, 12, [["100.00", "0"]], [])) == [channel.book]
    assert channel.book.bids[0] == (D("99.75"), D("0.5"))
    with pytest.raises(OutOfSync):
        channel.receive(change(14, 15, [], []))
    assert not synced(channel)
    channel.subscription()
    assert channel.receive(change(16, 17, [["1", "1"]], [])) == []  # the old subscription's
    assert channel.receive(snapshot(30, reset=True)) == [channel.book]
    assert channel.book.last_update_id == 30
    assert channel.snapshots == 2


def test_a_hub_without_the_depth_channel_serves_the_aggregated_view_instead() -> None:
    channel = BookChannel("BTCUSDT", None)
    assert not channel.refused(HubError("unknown_symbol", "no"))
    assert channel.refused(HubError("unknown_channel", "channel must be one of ..."))
    assert channel.subscription()["channel"] == "orderbook"
    view = {
        "type": "snapshot",
        "channel": "orderbook",
        "update_id": 99,
        "bids": [{"price": 60123.0, "amount": 0.7001}, {"price": 60122.0, "amount": 1.2}],
        "asks": [{"price": 60124.0, "amount": 0.41}],
    }
    assert channel.receive(view) == [channel.book]
    assert not channel.book.exact
    assert channel.book.bids == [(D("60123.0"), D("0.7001")), (D("60122.0"), D("1.2"))]
    update = view | {"type": "orderbook", "update_id": 100, "asks": []}
    assert channel.receive(update) == [channel.book]
    assert channel.book.asks == []
    assert channel.book.last_update_id == 100
    assert not channel.refused(HubError("unknown_channel", "again"))  # nothing left to try
