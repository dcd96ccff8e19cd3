"""Closing the snapshot/stream race for one subscription.

The subscriber registers on the bus *before* it reads the snapshot, so no update can fall
between the two. Updates that arrive while the snapshot is being read are held (by the
subscription, ``api/feeds/candles.py``) and, once the snapshot is out, released if they
are at or after its last candle: an update for an older candle is already reflected in
the snapshot, or older than what the client shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def released(
    held: Iterable[T], snapshot_last_open: int | None, open_time_of: Callable[[T], int]
) -> Iterator[T]:
    """The held items to pass on once a snapshot ending at ``snapshot_last_open`` is out."""
    for item in held:
        if snapshot_last_open is None or open_time_of(item) >= snapshot_last_open:
            yield item
