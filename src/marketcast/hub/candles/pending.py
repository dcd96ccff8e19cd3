"""A topic's mailbox of stream updates waiting for the sync worker.

While the worker is busy (a REST gap fill can take seconds) updates keep arriving every
couple of seconds. Only the best version per open time matters, so the mailbox keeps one
candle per open time, chosen by the same version rules as the store, and hands them out
oldest first, with the newest exchange push time (``E``) seen for each open time. A
resync request (after an upstream reconnect) is a flag, not a message: several
reconnects before the worker runs need one fill.
"""

from __future__ import annotations

from marketcast.domain.candles import Candle, newer_version


class PendingUpdates:
    def __init__(self) -> None:
        self._by_open: dict[int, Candle] = {}
        self._event_ms: dict[int, int] = {}
        self.resync_requested = False

    def __bool__(self) -> bool:
        return bool(self._by_open) or self.resync_requested

    def add(self, candle: Candle, event_ms: int | None = None) -> None:
        open_time = candle.open_time
        winner = newer_version(self._by_open.get(open_time), candle)
        if winner is not None:
            self._by_open[open_time] = winner
        if event_ms is not None:
            self._event_ms[open_time] = max(self._event_ms.get(open_time, event_ms), event_ms)

    def request_resync(self) -> None:
        self.resync_requested = True

    def take(self) -> tuple[bool, list[Candle], dict[int, int]]:
        """Return ``(resync, candles oldest first, push time by open time)`` and empty the
        mailbox."""
        resync, self.resync_requested = self.resync_requested, False
        candles = [self._by_open[t] for t in sorted(self._by_open)]
        event_ms, self._event_ms = self._event_ms, {}
        self._by_open.clear()
        return resync, candles, event_ms
