"""The local order book follows Binance's snapshot + diff procedure, spot and USD-M futures."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.book_side import BookSide, Level
from marketcast.domain.orderbook import (
    Applied,
    BookDiff,
    BookSnapshot,
    Buffered,
    DiffResult,
    Ignored,
    NeedSnapshot,
    OrderBook,
    SnapshotResult,
    Synced,
    SyncFault,
    SyncRule,
    SyncState,
)

D = Decimal
SPOT, FUTURES = SyncRule.SPOT, SyncRule.FUTURES


def snap(last: int, bids: tuple[Level, ...] = (), asks: tuple[Level, ...] = ()) -> BookSnapshot:
    return BookSnapshot(last, bids, asks)


def spot(first: int, final: int, bids: tuple[Level, ...] = ()) -> BookDiff:
    return BookDiff(first, final, None, bids, (), event_time=final)


def fut(first: int, final: int, previous: int | None, bids: tuple[Level, ...] = ()) -> BookDiff:
    return BookDiff(first, final, previous, bids, (), event_time=final)


def bid(price: str, quantity: str) -> Level:
    return D(price), D(quantity)


# --- the book's sides ---------------------------------------------------------------


def test_sides_read_best_first_and_zero_removes_a_level() -> None:
    bids, asks = BookSide(descending=True), BookSide(descending=False)
    for price in ("10", "12", "11"):
        bids.set_level(D(price), D(1))
        asks.set_level(D(price), D(2))
    assert [p for p, _ in bids] == [D(12), D(11), D(10)]
    assert [p for p, _ in asks] == [D(10), D(11), D(12)]
    assert bids.top(2) == [(D(12), D(1)), (D(11), D(1))]
    bids.set_level(D(12), D("0.000"))
    bids.set_level(D(99), D(0))  # removing an absent level is normal (Binance step 9)
    assert bids.best() == (D(11), D(1))
    assert len(bids) == 2
    bids.set_level(D(11), D(5))
    assert bids.quantity(D(11)) == D(5)
    assert BookSide(descending=True).best() is None


# --- spot: the documented procedure --------------------------------------------------


def test_diffs_are_buffered_until_a_snapshot_arrives() -> None:
    book = OrderBook(SPOT)
    assert book.state is SyncState.BUFFERING
    assert book.resync_needed
    assert book.fault == NeedSnapshot(SyncFault.NO_SNAPSHOT, "no snapshot yet")
    assert book.on_diff(spot(100, 105)) == Buffered(1)
    assert book.on_diff(spot(106, 110)) == Buffered(2)
    assert book.last_update is None
    assert len(book.bids) == 0


def test_spot_snapshot_drops_diffs_up_to_its_id_and_replays_the_rest() -> None:
    book = OrderBook(SPOT)
    book.on_diff(spot(100, 105, (bid("1", "9"),)))
    book.on_diff(spot(106, 110, (bid("2", "3"),)))
    book.on_diff(spot(111, 115, (bid("1", "0"),)))
    result = book.on_snapshot(snap(107, (bid("1", "5"),)))
    assert result == Synced(107, replayed=2, dropped=1)
    assert book.state is SyncState.SYNCED
    assert not book.resync_needed
    assert book.fault is None
    assert book.last_update == 115
    assert dict(book.bids) == {D(2): D(3)}  # 1 removed by 111..115; 100..105 never applied
    assert book.event_time == 115


@pytest.mark.parametrize(
    ("snapshot_id", "expected"),
    [
        (104, NeedSnapshot),  # id + 1 = 105 < U = 106: the snapshot is older than the stream
        (105, Synced),  # U = id + 1: the first diff starts right after the snapshot
        (108, Synced),  # U <= id + 1 <= u
        (109, Synced),  # id + 1 = u
        (110, Synced),  # u <= id: dropped, the book waits for the next diff
    ],
)
def test_spot_first_diff_must_satisfy_u_rule(snapshot_id: int, expected: type) -> None:
    book = OrderBook(SPOT)
    book.on_diff(spot(106, 110))
    assert isinstance(book.on_snapshot(snap(snapshot_id)), expected)


def test_spot_snapshot_older_than_the_buffer_asks_for_another_and_keeps_the_buffer() -> None:
    book = OrderBook(SPOT)
    book.on_diff(spot(120, 125, (bid("1", "1"),)))
    result = book.on_snapshot(snap(118))
    assert isinstance(result, NeedSnapshot)
    assert result.fault is SyncFault.SNAPSHOT_TOO_OLD
    assert book.fault == result
    assert book.state is SyncState.BUFFERING
    assert book.pending == 1
    assert book.on_snapshot(snap(119)) == Synced(119, replayed=1, dropped=0)
    assert book.last_update == 125


def test_spot_snapshot_without_buffer_is_checked_against_the_first_diff() -> None:
    book = OrderBook(SPOT)
    assert book.on_snapshot(snap(50, (bid("1", "1"),))) == Synced(50, replayed=0, dropped=0)
    assert book.on_diff(spot(40, 50)) == Ignored("diff ending at 50 is not newer than the book")
    result = book.on_diff(spot(52, 55))  # 51 is missing between the snapshot and the stream
    assert isinstance(result, NeedSnapshot)
    assert result.fault is SyncFault.SNAPSHOT_TOO_OLD
    assert book.state is SyncState.BUFFERING
    assert book.pending == 1
    assert len(book.bids) == 0


def test_spot_gap_breaks_the_book_and_a_new_snapshot_repairs_it() -> None:
    book = OrderBook(SPOT)
    book.on_snapshot(snap(10, (bid("1", "1"),)))
    assert book.on_diff(spot(11, 12, (bid("2", "2"),))) == Applied(12)
    version = book.version
    result = book.on_diff(spot(14, 15, (bid("3", "3"),)))  # 13 was lost
    assert isinstance(result, NeedSnapshot)
    assert result.fault is SyncFault.SEQUENCE_GAP
    assert result.detail == "diff 14..15 does not follow the book at 12"
    assert book.state is SyncState.BROKEN
    assert book.resync_needed
    assert book.last_update is None
    assert len(book.bids) == 0  # an unsynced book shows nothing rather than wrong levels
    assert book.version > version
    assert book.on_diff(spot(16, 16, (bid("4", "4"),))) == Buffered(2)
    assert book.on_snapshot(snap(15, ((D(1), D(1)), (D(2), D(2)), (D(3), D(3))))) == Synced(
        15, replayed=1, dropped=1
    )
    assert dict(book.bids) == {D(1): D(1), D(2): D(2), D(3): D(3), D(4): D(4)}


def test_synced_duplicates_and_old_diffs_are_ignored_without_a_new_version() -> None:
    book = OrderBook(SPOT)
    book.on_snapshot(snap(10))
    book.on_diff(spot(11, 12, (bid("2", "2"),)))
    version = book.version
    assert isinstance(book.on_diff(spot(11, 12, (bid("2", "7"),))), Ignored)
    assert isinstance(book.on_diff(spot(5, 9)), Ignored)
    assert book.version == version
    assert dict(book.bids) == {D(2): D(2)}


def test_spot_overlapping_diff_is_a_break_not_applied() -> None:
    book = OrderBook(SPOT)
    book.on_snapshot(snap(10))
    book.on_diff(spot(11, 12))
    result = book.on_diff(spot(12, 14))  # U must be exactly previous u + 1
    assert isinstance(result, NeedSnapshot)
    assert result.fault is SyncFault.SEQUENCE_GAP


# --- USD-M futures: the pu rule ------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot_id", "expected", "replayed"),
    [
        (104, NeedSnapshot, 0),  # id < U: older than the stream
        (105, Synced, 1),  # U <= id <= u (spot would also accept this one)
        (107, Synced, 1),
        (110, Synced, 1),  # u == id is applied on futures (dropped only when u < id)
        (111, Synced, 0),  # u < id: dropped
    ],
)
def test_futures_first_diff_must_satisfy_u_le_id_le_u(
    snapshot_id: int, expected: type, replayed: int
) -> None:
    book = OrderBook(FUTURES)
    book.on_diff(fut(105, 110, 100))
    result = book.on_snapshot(snap(snapshot_id))
    assert isinstance(result, expected)
    if isinstance(result, Synced):
        assert result.replayed == replayed


def test_futures_snapshot_one_below_the_first_diff_is_too_old() -> None:
    # Futures update ids are not contiguous, so id = U - 1 proves nothing: ask again.
    book = OrderBook(FUTURES)
    book.on_diff(fut(105, 110, 100))
    result = book.on_snapshot(snap(104))
    assert isinstance(result, NeedSnapshot)
    assert result.fault is SyncFault.SNAPSHOT_TOO_OLD


def test_futures_diffs_chain_by_previous_final_not_by_contiguous_ids() -> None:
    book = OrderBook(FUTURES)
    book.on_diff(fut(105, 110, 100))
    book.on_diff(fut(114, 120, 110))  # ids jump, pu links: fine on futures
    assert book.on_snapshot(snap(107)) == Synced(107, replayed=2, dropped=0)
    assert book.on_diff(fut(125, 130, 120, (bid("1", "1"),))) == Applied(130)
    assert isinstance(book.on_diff(fut(125, 130, 120)), Ignored)  # a re-sent event
    result = book.on_diff(fut(131, 140, 135))  # pu 135 != 130: something was lost
    assert isinstance(result, NeedSnapshot)
    assert result.fault is SyncFault.SEQUENCE_GAP
    assert result.detail == "diff 131..140 after 135 does not follow the book at 130"


def test_futures_diff_without_previous_final_cannot_be_linked() -> None:
    book = OrderBook(FUTURES)
    book.on_snapshot(snap(10))
    book.on_diff(fut(9, 12, 8))
    assert isinstance(book.on_diff(fut(13, 14, None)), NeedSnapshot)


# --- buffer and snapshot edge cases --------------------------------------------------


def test_a_gap_inside_the_buffer_restarts_it_and_stale_diffs_are_ignored() -> None:
    book = OrderBook(SPOT)
    book.on_diff(spot(1, 5))
    assert book.on_diff(spot(8, 9)) == Buffered(1, restarted=True)
    assert book.on_diff(spot(6, 7)) == Ignored("diff ending at 7 is not newer than the buffer")
    assert book.on_diff(spot(10, 10)) == Buffered(2)


def test_buffer_is_bounded_and_keeps_the_newest_diffs() -> None:
    book = OrderBook(SPOT, max_buffer=3)
    for update in range(1, 6):
        book.on_diff(spot(update, update))
    assert book.pending == 3
    assert isinstance(book.on_snapshot(snap(1)), NeedSnapshot)  # 2 was pushed out
    assert book.on_snapshot(snap(2)) == Synced(2, replayed=3, dropped=0)


def test_snapshot_while_synced_only_counts_when_newer_or_equal() -> None:
    book = OrderBook(SPOT)
    book.on_snapshot(snap(10, (bid("1", "1"),)))
    book.on_diff(spot(11, 20))
    assert isinstance(book.on_snapshot(snap(19)), Ignored)
    assert book.on_snapshot(snap(30, (bid("9", "9"),))) == Synced(30, replayed=0, dropped=0)
    assert dict(book.bids) == {D(9): D(9)}
    assert isinstance(book.on_diff(spot(21, 30)), Ignored)
    assert book.on_diff(spot(31, 31)) == Applied(31)


@pytest.mark.parametrize("rule", [SPOT, FUTURES])
def test_an_equal_id_snapshot_restores_levels_lost_at_the_deep_edge(rule: SyncRule) -> None:
    # The exchange holds bids 10..6; a 3-level snapshot showed 10, 9, 8. Deleting 10 and
    # 9 left the local book 8 alone, while the exchange's 7 and 6 moved up unseen.
    book = OrderBook(rule)
    book.on_snapshot(snap(10, (bid("10", "1"), bid("9", "1"), bid("8", "1"))))
    delete = (bid("10", "0"), bid("9", "0"))
    book.on_diff(spot(11, 12, delete) if rule is SPOT else fut(9, 12, None, delete))
    assert dict(book.bids) == {D(8): D(1)}
    version = book.version
    deeper = snap(12, (bid("8", "1"), bid("7", "2"), bid("6", "3")))
    assert book.on_snapshot(deeper) == Synced(12, replayed=0, dropped=0)
    assert dict(book.bids) == {D(8): D(1), D(7): D(2), D(6): D(3)}
    assert book.version > version
    # The book still follows the same sequence: the next diff chains on as before.
    follow = spot(13, 13, (bid("7", "0"),)) if rule is SPOT else fut(13, 14, 12, (bid("7", "0"),))
    assert isinstance(book.on_diff(follow), Applied)
    assert dict(book.bids) == {D(8): D(1), D(6): D(3)}


def test_a_shallower_equal_id_snapshot_keeps_the_levels_beyond_it() -> None:
    book = OrderBook(SPOT)
    book.on_snapshot(snap(5, (bid("10", "1"), bid("9", "1"), bid("8", "1"))))
    version = book.version
    assert book.on_snapshot(snap(5, (bid("10", "1"),))) == Synced(5, replayed=0, dropped=0)
    assert dict(book.bids) == {D(10): D(1), D(9): D(1), D(8): D(1)}
    assert book.version == version  # nothing changed: no new version to push
    book.on_snapshot(snap(5, (bid("10", "2"),)))
    assert dict(book.bids) == {D(10): D(2), D(9): D(1), D(8): D(1)}


def test_snapshot_zero_quantities_are_not_levels_and_event_time_is_kept() -> None:
    book = OrderBook(SPOT)
    book.on_snapshot(BookSnapshot(1, (bid("1", "0"), bid("2", "1")), (), event_time=77))
    assert dict(book.bids) == {D(2): D(1)}
    assert book.event_time == 77


def test_two_books_are_independent() -> None:
    first, second = OrderBook(SPOT), OrderBook(SPOT)
    for book in (first, second):
        book.on_snapshot(snap(1))
        book.on_diff(spot(2, 2))
    assert isinstance(first.on_diff(spot(9, 9)), NeedSnapshot)
    assert second.state is SyncState.SYNCED
    assert second.on_diff(spot(3, 3)) == Applied(3)


# --- properties against a reference model --------------------------------------------

PRICES = [D("100.00") + D("0.25") * i for i in range(12)]
QUANTITIES = [D(0), D("0.001"), D("1.5"), D(2), D("10.25")]


@dataclass
class Tape:
    """The exchange's truth: single updates with ids, grouped into the diffs it pushes."""

    initial: dict[str, dict[Decimal, Decimal]]
    updates: list[tuple[int, str, Decimal, Decimal]] = field(default_factory=list)
    diffs: list[BookDiff] = field(default_factory=list)

    def truth(self, upto: int) -> dict[str, dict[Decimal, Decimal]]:
        book = {side: dict(levels) for side, levels in self.initial.items()}
        for update_id, side, price, quantity in self.updates:
            if update_id > upto:
                break
            if quantity:
                book[side][price] = quantity
            else:
                book[side].pop(price, None)
        return book

    def snapshot(self, upto: int) -> BookSnapshot:
        book = self.truth(upto)
        return BookSnapshot(upto, tuple(book["bid"].items()), tuple(book["ask"].items()))


def assert_equals_truth(book: OrderBook, tape: Tape) -> None:
    if book.state is SyncState.SYNCED:
        assert book.last_update is not None
        truth = tape.truth(book.last_update)
        assert dict(book.bids) == truth["bid"]
        assert dict(book.asks) == truth["ask"]


change = st.tuples(
    st.sampled_from(["bid", "ask"]), st.sampled_from(PRICES), st.sampled_from(QUANTITIES)
)
initial_side = st.dictionaries(st.sampled_from(PRICES), st.sampled_from(QUANTITIES[1:]), max_size=6)


@st.composite
def tapes(draw: st.DrawFn, rule: SyncRule, min_diffs: int = 1) -> Tape:
    tape = Tape({"bid": draw(initial_side), "ask": draw(initial_side)})
    previous = 0
    for _ in range(draw(st.integers(min_diffs, 12))):
        # Spot ids are contiguous; futures ids may jump between diffs (pu links them).
        first = previous + (1 if rule is SPOT else draw(st.integers(1, 3)))
        changes = draw(st.lists(change, min_size=1, max_size=3))
        touched: dict[tuple[str, Decimal], Decimal] = {}
        for offset, (side, price, quantity) in enumerate(changes):
            tape.updates.append((first + offset, side, price, quantity))
            touched[side, price] = quantity
        final = first + len(changes) - 1
        levels = {
            side: tuple((p, q) for (s, p), q in touched.items() if s == side)
            for side in ("bid", "ask")
        }
        linked = previous if rule is FUTURES else None
        tape.diffs.append(BookDiff(first, final, linked, levels["bid"], levels["ask"], final))
        previous = final
    return tape


class Shell:
    """What the I/O shell does: feed diffs, fetch a fresh snapshot whenever one is needed."""

    def __init__(self, rule: SyncRule, tape: Tape) -> None:
        self.book = OrderBook(rule)
        self.tape = tape
        self.results: list[DiffResult | SnapshotResult] = []
        self.exchange_at = 0  # the newest update id the exchange has published

    def diff(self, diff: BookDiff) -> DiffResult:
        self.exchange_at = max(self.exchange_at, diff.final_update)
        result = self.book.on_diff(diff)
        self._record(result)
        return result

    def snapshot(self, upto: int) -> SnapshotResult:
        result = self.book.on_snapshot(self.tape.snapshot(upto))
        self._record(result)
        return result

    def _record(self, result: DiffResult | SnapshotResult) -> None:
        self.results.append(result)
        assert_equals_truth(self.book, self.tape)
        if isinstance(result, NeedSnapshot):
            self.snapshot(self.exchange_at)


@pytest.mark.parametrize("rule", [SPOT, FUTURES])
@given(data=st.data())
def test_buffered_stream_plus_late_snapshot_equals_the_reference_model(
    rule: SyncRule, data: st.DataObject
) -> None:
    tape = data.draw(tapes(rule))
    diffs = tape.diffs
    start = data.draw(st.integers(0, len(diffs) - 1))  # subscribed mid-stream
    arrival = data.draw(st.integers(0, len(diffs) - start))  # diffs buffered before it
    snapshot_id = data.draw(st.integers(0, diffs[-1].final_update))
    received = diffs[start:]
    shell = Shell(rule, tape)
    for diff in received[:arrival]:
        assert isinstance(shell.diff(diff), Buffered)
    shell.exchange_at = max(shell.exchange_at, snapshot_id)
    shell.snapshot(snapshot_id)
    for diff in received[arrival:]:
        shell.diff(diff)

    usable = [
        d
        for d in received
        if d.final_update > snapshot_id or (rule is FUTURES and d.final_update == snapshot_id)
    ]
    reach = snapshot_id + 1 if rule is SPOT else snapshot_id
    too_old = bool(usable) and usable[0].first_update > reach
    faults = [r.fault for r in shell.results if isinstance(r, NeedSnapshot)]
    assert faults == ([SyncFault.SNAPSHOT_TOO_OLD] if too_old else [])
    assert shell.book.state is SyncState.SYNCED
    assert shell.book.last_update == max(diffs[-1].final_update, snapshot_id)
    assert_equals_truth(shell.book, tape)


@pytest.mark.parametrize("rule", [SPOT, FUTURES])
@pytest.mark.parametrize("fault", ["drop", "swap", "duplicate"])
@given(data=st.data())
def test_a_lost_reordered_or_repeated_diff_is_never_silently_applied(
    rule: SyncRule, fault: str, data: st.DataObject
) -> None:
    tape = data.draw(tapes(rule, min_diffs=3))
    diffs = list(tape.diffs)
    where = data.draw(st.integers(1, len(diffs) - 2))
    shell = Shell(rule, tape)
    # A snapshot the first diff bridges (spot: U = id + 1; futures: u = id), so that the
    # fault below hits a book that already follows the stream.
    first = diffs[0]
    assert isinstance(
        shell.snapshot(first.first_update - 1 if rule is SPOT else first.final_update), Synced
    )
    for diff in diffs[:where]:
        assert isinstance(shell.diff(diff), Applied)
    if fault == "drop":
        result = shell.diff(diffs[where + 1])
        assert isinstance(result, NeedSnapshot)
        assert result.fault is SyncFault.SEQUENCE_GAP
    elif fault == "swap":
        result = shell.diff(diffs[where + 1])
        assert isinstance(result, NeedSnapshot)
        assert result.fault is SyncFault.SEQUENCE_GAP
        assert isinstance(shell.diff(diffs[where]), Ignored)
    else:
        assert isinstance(shell.diff(diffs[where]), Applied)
        assert isinstance(shell.diff(diffs[where]), Ignored)
        assert isinstance(shell.diff(diffs[where + 1]), Applied)
    for diff in diffs[where + 2 :]:
        assert isinstance(shell.diff(diff), Applied)
    assert shell.book.last_update == diffs[-1].final_update
    assert_equals_truth(shell.book, tape)


@pytest.mark.parametrize("rule", [SPOT, FUTURES])
@given(data=st.data())
def test_a_diff_lost_while_buffering_never_reaches_the_book(
    rule: SyncRule, data: st.DataObject
) -> None:
    tape = data.draw(tapes(rule, min_diffs=3))
    diffs = tape.diffs
    lost = data.draw(st.integers(1, len(diffs) - 2))
    shell = Shell(rule, tape)
    results = [shell.diff(diff) for diff in diffs[:lost] + diffs[lost + 1 :]]
    assert results[lost] == Buffered(1, restarted=True)  # the diff right after the gap
    shell.snapshot(data.draw(st.integers(0, diffs[-1].final_update)))
    assert shell.book.state is SyncState.SYNCED
    assert shell.book.last_update == diffs[-1].final_update
    assert_equals_truth(shell.book, tape)
