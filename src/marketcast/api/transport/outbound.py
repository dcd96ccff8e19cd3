"""A client's bounded outbound queue: what to send next, and when to give up on it.

Fan-out puts into this buffer without awaiting, so the slowest client never delays the
others. While a client lags, a newer version of a still-forming candle replaces the queued
one in place (the client only needs the latest), but closed candles and control messages
are never dropped: when they exceed ``limit`` the client is declared a slow consumer and
closed (it can resume with ``since``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Entry:
    text: str
    key: Hashable | None


class OutboundBuffer(deque[_Entry]):
    """FIFO of text frames with in-place coalescing by key.

    A deque itself, so that "is anything queued?", asked once per delivered update, is
    answered in C; queue only through :meth:`push` and take only through :meth:`pop_batch`,
    which keep the key index.
    """

    __slots__ = ("_by_key", "coalesced", "limit")

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self._by_key: dict[Hashable, _Entry] = {}
        self.coalesced = 0

    def push(self, text: str, key: Hashable | None = None) -> bool:
        """Queue ``text``; return ``False`` once the client is past the hard limit.

        A ``key`` marks a superseded-able message (a forming candle): a queued, unsent
        message with the same key is overwritten where it stands, which keeps the order of
        different candles intact.
        """
        if key is not None:
            queued = self._by_key.get(key)
            if queued is not None:
                queued.text = text
                self.coalesced += 1
                return True
        if len(self) >= self.limit:
            return False
        entry = _Entry(text, key)
        self.append(entry)
        if key is not None:
            self._by_key[key] = entry
        return True

    def pop_batch(self, max_items: int) -> list[str]:
        """Take up to ``max_items`` frames, oldest first."""
        batch: list[str] = []
        while self and len(batch) < max_items:
            entry = self.popleft()
            if entry.key is not None and self._by_key.get(entry.key) is entry:
                del self._by_key[entry.key]
            batch.append(entry.text)
        return batch
