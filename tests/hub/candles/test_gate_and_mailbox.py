"""Pure fan-out pieces of a candle topic: the snapshot release rule and the topic mailbox."""

from __future__ import annotations

from marketcast.domain.candles import Candle
from marketcast.hub.candles.gate import released
from marketcast.hub.candles.pending import PendingUpdates


def test_held_updates_older_than_the_snapshots_last_candle_are_dropped() -> None:
    held = [5, 9, 10, 11]
    assert list(released(held, 10, lambda t: t)) == [10, 11]


def test_with_an_empty_snapshot_every_held_update_is_released() -> None:
    assert list(released([1, 3], None, lambda t: t)) == [1, 3]


def c(t: int, trades: int, closed: bool = False) -> Candle:
    return Candle(t, 1, 1, 1, 1, 1, 1, trades, closed)


def test_mailbox_keeps_best_version_per_open_time_oldest_first() -> None:
    box = PendingUpdates()
    assert not box
    box.add(c(2, 5))
    box.add(c(1, 7, closed=True))
    box.add(c(2, 3))  # older push of the same forming candle: ignored
    box.add(c(1, 9))  # forming after closed: ignored
    box.request_resync()
    resync, candles, _ = box.take()
    assert resync
    assert candles == [c(1, 7, closed=True), c(2, 5)]
    assert not box


def test_mailbox_keeps_the_newest_push_time_per_open_time() -> None:
    box = PendingUpdates()
    box.add(c(1, 5), event_ms=1_000)
    box.add(c(1, 6), event_ms=3_000)
    box.add(c(1, 4), event_ms=2_000)  # an older push delivered late
    box.add(c(2, 1))  # from REST: no push time
    _, candles, event_ms = box.take()
    assert candles == [c(1, 6), c(2, 1)]
    assert event_ms == {1: 3_000}
    box.add(c(1, 6), event_ms[1])  # put back after a failed apply
    assert box.take()[2] == {1: 3_000}
    assert box.take()[2] == {}
