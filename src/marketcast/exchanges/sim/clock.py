"""The simulator's virtual clock: real time, scaled, and steerable from tests."""

from __future__ import annotations

import time
from collections.abc import Callable


class VirtualClock:
    """Virtual epoch ms that advance ``speed`` times faster than ``monotonic`` seconds.

    ``VirtualClock(start_ms, speed=60)`` closes a 1m candle every real second. Tests can
    :meth:`pause`, :meth:`resume` and :meth:`advance` it; it never runs backwards.

    Args:
        start_ms: virtual time at creation.
        speed: virtual seconds per real second.
        monotonic: the real clock, in seconds: ``time.monotonic`` unless the clock is to
            follow the wall clock through its steps (``time.time``); injectable for tests.
        paused: start paused (at ``start_ms``) until :meth:`resume`.
    """

    def __init__(
        self,
        start_ms: int,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        paused: bool = False,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._monotonic = monotonic
        self._speed = speed
        self._base_ms = start_ms
        self._anchor = monotonic()
        self._paused = paused
        # The latest reading given out: a real clock that steps back (the wall clock can)
        # holds this one still until it catches up.
        self._latest_ms = start_ms

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def now_ms(self) -> int:
        if self._paused:
            return self._base_ms
        elapsed = self._monotonic() - self._anchor
        now = self._base_ms + int(elapsed * self._speed * 1000)
        if now < self._latest_ms:
            return self._latest_ms
        self._latest_ms = now
        return now

    def real_seconds_until(self, virtual_ms: int) -> float:
        """Real seconds until ``virtual_ms`` is reached (``inf`` while paused)."""
        if self._paused:
            return float("inf")
        return max(0.0, (virtual_ms - self.now_ms()) / 1000 / self._speed)

    def pause(self) -> None:
        self._rebase()
        self._paused = True

    def resume(self) -> None:
        self._rebase()
        self._paused = False

    def advance(self, ms: int) -> None:
        """Jump forward by ``ms`` virtual milliseconds."""
        if ms < 0:
            raise ValueError("the virtual clock never runs backwards")
        self._rebase()
        self._base_ms += ms

    def _rebase(self) -> None:
        self._base_ms = self.now_ms()
        self._anchor = self._monotonic()
