"""The exact book's change stream: a copy fed ``since`` equals the book, or starts over."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from marketcast.domain.book_side import Level
from marketcast.domain.depth_journal import START_OVER, DepthChange, DepthJournal
from marketcast.domain.orderbook import BookDiff

D = Decimal


def diff(first: int, final: int, bids: dict[str, str], asks: dict[str, str]) -> BookDiff:
    def levels(side: dict[str, str]) -> tuple[Level, ...]:
        return tuple((D(p), D(q)) for p, q in side.items())

    return BookDiff(first, final, None, levels(bids), levels(asks), event_time=0)


def apply(copy: dict[Decimal, Decimal], levels: tuple[Level, ...]) -> None:
    for price, quantity in levels:
        if quantity:
            copy[price] = quantity
        else:
            copy.pop(price, None)


def test_changes_merge_to_the_latest_quantity_of_each_level_best_first() -> None:
    journal = DepthJournal()
    journal.record(10, diff(11, 12, {"100.1": "1", "99.95": "2"}, {"101": "3"}))
    journal.record(12, diff(13, 13, {"100.1": "0", "100.05": "4"}, {"101": "5", "102": "1"}))
    change = journal.since(0, 10)
    assert change == DepthChange(
        10,
        13,
        ((D("100.1"), D(0)), (D("100.05"), D(4)), (D("99.95"), D(2))),
        ((D(101), D(5)), (D(102), D(1))),
    )
    assert journal.since(0, 12) == DepthChange(
        12, 13, ((D("100.1"), D(0)), (D("100.05"), D(4))), ((D(101), D(5)), (D(102), D(1)))
    )
    assert journal.since(0, 13) is None


def test_clients_at_one_point_share_one_change_until_the_next_diff() -> None:
    journal = DepthJournal()
    journal.record(1, diff(2, 2, {"1": "1"}, {}))
    first = journal.since(0, 1)
    assert journal.since(0, 1) is first
    journal.record(2, diff(3, 3, {"1": "2"}, {}))
    assert journal.since(0, 1) is not first


def test_a_copy_from_another_epoch_or_older_than_the_journal_starts_over() -> None:
    journal = DepthJournal(capacity=2)
    for update in range(1, 5):
        journal.record(update, diff(update + 1, update + 1, {"1": str(update)}, {}))
    assert journal.since(0, 1) is START_OVER  # the diff after 1 fell out
    assert isinstance(journal.since(0, 3), DepthChange)
    journal.restart()
    assert journal.since(0, 5) is START_OVER
    assert journal.since(1, 5) is None


def test_a_diff_that_does_not_continue_the_chain_restarts_it() -> None:
    journal = DepthJournal()
    journal.record(1, diff(2, 2, {"1": "1"}, {}))
    journal.record(7, diff(8, 8, {"1": "2"}, {}))
    assert journal.epoch == 1
    assert journal.since(0, 2) is START_OVER
    assert journal.since(1, 7) == DepthChange(7, 8, ((D(1), D(2)),), ())


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        DepthJournal(capacity=0)


@pytest.mark.parametrize("seed", range(5))
def test_copies_fed_changes_at_random_moments_equal_the_book(seed: int) -> None:
    rng = random.Random(seed)
    journal = DepthJournal(capacity=50)
    book: dict[Decimal, Decimal] = {}
    copies: list[tuple[dict[Decimal, Decimal], int]] = [({}, 0) for _ in range(4)]
    update = 0
    for _ in range(400):
        levels = {
            f"{rng.randrange(90, 110)}.{rng.choice('05')}": str(rng.choice((0, 1, 2, 3)))
            for _ in range(rng.randrange(1, 6))
        }
        step = rng.randrange(1, 4)
        event = diff(update + 1, update + step, levels, {})
        journal.record(update, event)
        apply(book, event.bids)
        update += step
        for index, (copy, at) in enumerate(copies):
            if rng.random() < 0.3:
                change = journal.since(0, at)
                assert isinstance(change, DepthChange)  # never further behind than 50
                assert change.after == at
                apply(copy, change.bids)
                copies[index] = (copy, change.last_update)
                assert copy == book
