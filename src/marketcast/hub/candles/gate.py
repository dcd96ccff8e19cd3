"""Closing the snapshot/stream race for one subscription.

The subscriber registers on the bus *before* it reads the snapshot, so no update can fall
between the two. Updates that arrive while the snapshot is being read are held and, once
the snapshot is out, released if they are at or after its last candle: an update for an
older candle is already reflected in the snapshot, or older than what the client shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def released(
    held: Iterable[T], snapshot_last_open: int | None, open_time_of: Callable[[T], int]
) -> Iterator[T]:
    """The held items to pass on once a snapshot ending at ``snapshot_last_open`` is out."""
    for item in held:
        if snapshot_last_open is None or open_time_of(item) >= snapshot_last_open:
            yield item


class SnapshotGate(Generic[T]):
    """Buffers items until :meth:`open`; afterwards passes them straight through."""

    __slots__ = ("_forward", "_held", "_open_time_of")

    def __init__(self, forward: Callable[[T], None], open_time_of: Callable[[T], int]) -> None:
        self._forward = forward
        self._open_time_of = open_time_of
        self._held: list[T] | None = []

    def offer(self, item: T) -> None:
        if self._held is None:
            self._forward(item)
        else:
            self._held.append(item)

    def open(self, snapshot_last_open: int | None) -> None:
        """Release held items at or after the snapshot's last open time, then pass through."""
        held, self._held = self._held or [], None
        for item in released(held, snapshot_last_open, self._open_time_of):
            self._forward(item)
