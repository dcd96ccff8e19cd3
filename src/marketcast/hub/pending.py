"""A topic's mailbox of stream updates waiting for the sync worker.

While the worker is busy (a REST gap fill can take seconds) updates keep arriving every
couple of seconds. Only the best version per open time matters, so the mailbox keeps one
candle per open time, chosen by the same version rules as the store, and hands them out
oldest first. A resync request (after an upstream reconnect) is a flag, not a message:
several reconnects before the worker runs need one fill.
"""

from __future__ import annotations

from marketcast.domain.candles import Candle, newer_version


class PendingUpdates:
    def __init__(self) -> None:
        self._by_open: dict[int, Candle] = {}
        self.resync_requested = False

    def __bool__(self) -> bool:
        return bool(self._by_open) or self.resync_requested

    def add(self, candle: Candle) -> None:
        winner = newer_version(self._by_open.get(candle.open_time), candle)
        if winner is not None:
            self._by_open[candle.open_time] = winner

    def request_resync(self) -> None:
        self.resync_requested = True

    def take(self) -> tuple[bool, list[Candle]]:
        """Return ``(resync, candles oldest first)`` and empty the mailbox."""
        resync, self.resync_requested = self.resync_requested, False
        candles = [self._by_open[t] for t in sorted(self._by_open)]
        self._by_open.clear()
        return resync, candles
