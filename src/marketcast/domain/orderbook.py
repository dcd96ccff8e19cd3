"""The local order book of one symbol, and the rules that keep it equal to the exchange's.

The exchange publishes a snapshot (the book as of update id ``last_update``) and a stream
of diffs, each covering the update ids ``first_update..final_update`` and carrying the
*absolute* quantity of every level it touches (zero removes the level). :class:`OrderBook`
is the pure state machine the I/O shell feeds with both; every call returns what happened
instead of raising, so the shell can log, count and fetch a new snapshot for *this* book.

States: ``BUFFERING`` (no usable book: diffs are kept, as one contiguous chain, until a
snapshot arrives), ``SYNCED`` (the book equals the exchange's as of ``last_update``) and
``BROKEN`` (a sequence break was seen: like buffering, remembering why).

Binance's procedure ("How to manage a local order book correctly"), with ``id`` the
snapshot's update id:

=========================  ==================================  =============================
step                       spot (web-socket-streams.md)        USD-M futures
=========================  ==================================  =============================
drop buffered diffs        ``final <= id``                     ``final < id``
snapshot older than diffs  ``first > id + 1``: new snapshot    ``first > id``: new snapshot
first applied diff         ``first <= id + 1 <= final``        ``first <= id <= final``
every later diff           ``first == previous final + 1``     ``previous_final ==
                                                               previous final``
=========================  ==================================  =============================

A diff whose ``final`` is not newer than the book is a duplicate and is ignored (spot
update procedure: "if the event u is <= the update ID of your local order book, ignore").

A snapshot at the very update id the synced book is at refreshes its levels (deep ones
the book lost through deletions inside its depth) and the book follows on unchanged; an
older one is ignored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from marketcast.domain.book_side import BookSide, Level

DEFAULT_MAX_BUFFER = 10_000


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The whole book as of update id ``last_update``; ``event_time`` (ms) if sent."""

    last_update: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time: int | None = None


@dataclass(frozen=True, slots=True)
class BookDiff:
    """Changes for update ids ``first_update..final_update``; a zero quantity removes a level.

    ``previous_final`` is the ``final_update`` of the diff before this one; only USD-M
    futures send it (spot diffs chain by ``first_update == previous final + 1`` instead).
    """

    first_update: int
    final_update: int
    previous_final: int | None
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time: int


class SyncRule(Enum):
    """Which of Binance's two documented procedures links a book's diffs."""

    SPOT = "spot"
    FUTURES = "futures"


class SyncState(Enum):
    BUFFERING = "buffering"
    SYNCED = "synced"
    BROKEN = "broken"


class SyncFault(Enum):
    """Why a book needs a new snapshot."""

    NO_SNAPSHOT = "no_snapshot"
    SEQUENCE_GAP = "sequence_gap"
    SNAPSHOT_TOO_OLD = "snapshot_too_old"


@dataclass(frozen=True, slots=True)
class Applied:
    """The diff changed the book, which is now at ``final_update``."""

    final_update: int


@dataclass(frozen=True, slots=True)
class Buffered:
    """Kept until a snapshot arrives. ``restarted``: a gap in the buffer dropped older diffs."""

    pending: int
    restarted: bool = False


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing changed (a duplicate or stale diff, or a snapshot older than the book)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Synced:
    """The snapshot was adopted (at the book's own id: its levels merged in); ``replayed``
    buffered diffs applied, ``dropped`` were older."""

    last_update: int
    replayed: int
    dropped: int


@dataclass(frozen=True, slots=True)
class NeedSnapshot:
    """The book is unusable until the shell fetches a new snapshot for this symbol."""

    fault: SyncFault
    detail: str


DiffResult = Applied | Buffered | Ignored | NeedSnapshot
SnapshotResult = Synced | Ignored | NeedSnapshot


class _Verdict(Enum):
    APPLY = "apply"
    STALE = "stale"
    TOO_OLD = "too_old"
    GAP = "gap"


def _first_diff_verdict(rule: SyncRule, book_id: int, diff: BookDiff) -> _Verdict:
    """The rule for the first diff applied on top of a snapshot with update id ``book_id``."""
    if rule is SyncRule.SPOT:
        if diff.final_update <= book_id:
            return _Verdict.STALE
        return _Verdict.TOO_OLD if diff.first_update > book_id + 1 else _Verdict.APPLY
    if diff.final_update < book_id:
        return _Verdict.STALE
    return _Verdict.TOO_OLD if diff.first_update > book_id else _Verdict.APPLY


def _next_diff_verdict(rule: SyncRule, previous_final: int, diff: BookDiff) -> _Verdict:
    """The rule for a diff following one that ended at ``previous_final``."""
    if diff.final_update <= previous_final:
        return _Verdict.STALE
    if rule is SyncRule.SPOT:
        linked = diff.first_update == previous_final + 1
    else:
        linked = diff.previous_final == previous_final
    return _Verdict.APPLY if linked else _Verdict.GAP


class OrderBook:
    """One symbol's local book, kept in sync by Binance's snapshot + diff procedure."""

    def __init__(self, rule: SyncRule, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.rule = rule
        self.bids = BookSide(descending=True)
        self.asks = BookSide(descending=False)
        self._state = SyncState.BUFFERING
        self._fault: NeedSnapshot | None = NeedSnapshot(SyncFault.NO_SNAPSHOT, "no snapshot yet")
        self._buffer: deque[BookDiff] = deque(maxlen=max_buffer)
        self._last_update: int | None = None
        self._bridged = False  # has a diff been applied on top of the snapshot yet?
        self._event_time: int | None = None
        self._version = 0

    @property
    def state(self) -> SyncState:
        return self._state

    @property
    def resync_needed(self) -> bool:
        """True until a snapshot has been adopted, and again after every sequence break."""
        return self._state is not SyncState.SYNCED

    @property
    def fault(self) -> NeedSnapshot | None:
        """Why the book is not synced (``None`` while it is)."""
        return self._fault

    @property
    def last_update(self) -> int | None:
        """The update id the book is at; ``None`` while not synced."""
        return self._last_update

    @property
    def event_time(self) -> int | None:
        """Exchange time (ms) of the newest data in the book, when known."""
        return self._event_time

    @property
    def version(self) -> int:
        """Changes whenever the levels change; views computed for a version stay valid."""
        return self._version

    @property
    def pending(self) -> int:
        """Diffs buffered while waiting for a snapshot."""
        return len(self._buffer)

    def on_diff(self, diff: BookDiff) -> DiffResult:
        if self._state is SyncState.SYNCED:
            return self._follow(diff)
        return self._buffer_diff(diff)

    def on_snapshot(self, snapshot: BookSnapshot) -> SnapshotResult:
        book_id = snapshot.last_update
        if self._state is SyncState.SYNCED:
            assert self._last_update is not None
            if book_id == self._last_update:
                return self._refresh(snapshot)
            if book_id < self._last_update:
                return Ignored(f"snapshot {book_id} is older than the book ({self._last_update})")
        pending = [
            diff
            for diff in self._buffer
            if _first_diff_verdict(self.rule, book_id, diff) is not _Verdict.STALE
        ]
        dropped = len(self._buffer) - len(pending)
        if pending and _first_diff_verdict(self.rule, book_id, pending[0]) is _Verdict.TOO_OLD:
            self._buffer = deque(pending, maxlen=self._buffer.maxlen)
            return self._need(
                SyncFault.SNAPSHOT_TOO_OLD,
                f"snapshot {book_id} is older than the buffered diffs "
                f"(first starts at {pending[0].first_update})",
            )
        self._adopt(snapshot)
        for diff in pending:
            # The first diff bridges the snapshot (checked above) and the buffer is kept
            # as one chain, so every buffered diff applies.
            result = self._follow(diff)
            assert isinstance(result, Applied), result
        return Synced(book_id, replayed=len(pending), dropped=dropped)

    def _adopt(self, snapshot: BookSnapshot) -> None:
        self.bids.load(snapshot.bids)
        self.asks.load(snapshot.asks)
        self._buffer.clear()
        self._state = SyncState.SYNCED
        self._fault = None
        self._last_update = snapshot.last_update
        self._bridged = False
        self._event_time = snapshot.event_time
        self._version += 1

    def _refresh(self, snapshot: BookSnapshot) -> Synced:
        """The exchange's book at the very id this one is at: take its levels (deep ones
        this book lost through deletions), keep following the same diff sequence."""
        bids = self.bids.refresh(snapshot.bids)
        asks = self.asks.refresh(snapshot.asks)
        if bids or asks:
            self._version += 1
        return Synced(snapshot.last_update, replayed=0, dropped=0)

    def _follow(self, diff: BookDiff) -> DiffResult:
        assert self._last_update is not None
        if self._bridged:
            verdict = _next_diff_verdict(self.rule, self._last_update, diff)
        else:
            verdict = _first_diff_verdict(self.rule, self._last_update, diff)
        if verdict is _Verdict.STALE:
            return Ignored(f"diff ending at {diff.final_update} is not newer than the book")
        if verdict is _Verdict.APPLY:
            self._apply(diff)
            return Applied(diff.final_update)
        if verdict is _Verdict.TOO_OLD:
            detail = f"snapshot {self._last_update} is older than the diff {self._describe(diff)}"
            return self._lose_sync(SyncState.BUFFERING, SyncFault.SNAPSHOT_TOO_OLD, detail, diff)
        detail = f"diff {self._describe(diff)} does not follow the book at {self._last_update}"
        return self._lose_sync(SyncState.BROKEN, SyncFault.SEQUENCE_GAP, detail, diff)

    def _apply(self, diff: BookDiff) -> None:
        for price, quantity in diff.bids:
            self.bids.set_level(price, quantity)
        for price, quantity in diff.asks:
            self.asks.set_level(price, quantity)
        self._last_update = diff.final_update
        self._bridged = True
        self._event_time = diff.event_time
        self._version += 1

    def _lose_sync(
        self, state: SyncState, fault: SyncFault, detail: str, diff: BookDiff
    ) -> NeedSnapshot:
        # The diff that revealed the break is genuine and newer than the book: it starts
        # the buffer the next snapshot will be bridged with.
        self.bids.clear()
        self.asks.clear()
        self._state = state
        self._last_update = None
        self._bridged = False
        self._buffer.clear()
        self._buffer.append(diff)
        self._version += 1
        return self._need(fault, detail)

    def _need(self, fault: SyncFault, detail: str) -> NeedSnapshot:
        self._fault = NeedSnapshot(fault, detail)
        return self._fault

    def _buffer_diff(self, diff: BookDiff) -> Buffered | Ignored:
        restarted = False
        if self._buffer:
            last = self._buffer[-1]
            verdict = _next_diff_verdict(self.rule, last.final_update, diff)
            if verdict is _Verdict.STALE:
                return Ignored(f"diff ending at {diff.final_update} is not newer than the buffer")
            if verdict is _Verdict.GAP:
                # Nothing before a gap can be bridged to what follows it.
                self._buffer.clear()
                restarted = True
        self._buffer.append(diff)
        return Buffered(len(self._buffer), restarted)

    def _describe(self, diff: BookDiff) -> str:
        linked = "" if diff.previous_final is None else f" after {diff.previous_final}"
        return f"{diff.first_update}..{diff.final_update}{linked}"
