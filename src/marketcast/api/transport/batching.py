"""Batch windows: one timer flushes every batched client session of a window length.

A session that asked for ``?batch_ms=N`` queues its messages and marks itself here; when
the window closes, each marked session sends what it queued as one JSON array, written
in place. A timer and a wake-up per client per window would cost as much as the frames
batching saves: one shared timer per window length costs nothing per client.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Batched(Protocol):
    def flush_batch(self) -> None: ...


class BatchWindow:
    """Flushes every session marked within a window, ``seconds`` after the first mark."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._marked: dict[Batched, None] = {}  # insertion-ordered set
        self._timer: asyncio.TimerHandle | None = None

    def mark(self, session: Batched) -> None:
        self._marked[session] = None
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.seconds, self._flush)

    def _flush(self) -> None:
        marked, self._marked, self._timer = self._marked, {}, None
        for session in marked:
            try:
                session.flush_batch()
            except Exception:
                # One session's bug must not hold back the others' frames.
                log.exception("flushing a batched session failed")
