"""Binance's REST weight limit: per-minute weight, 429 to back off, 418 for ignoring it.

Weight is counted per real-time calendar minute, as Binance does. A request over the limit
gets 429 with ``Retry-After`` up to the end of the minute. A client that keeps sending
during that back-off earns an IP ban: 418 with a longer ``Retry-After`` that doubles with
each ban (Binance scales bans from 2 minutes up to 3 days).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

IGNORED_BACKOFFS_BEFORE_BAN: Final = 2
FIRST_BAN_S: Final = 120
MAX_BAN_S: Final = 3 * 24 * 3600


@dataclass(frozen=True, slots=True)
class WeightDecision:
    """``status`` 200 to serve, else 429 or 418; ``used`` feeds ``X-MBX-USED-WEIGHT-1M``."""

    status: int
    used: int
    retry_after_s: int = 0


class WeightLimiter:
    """Weight accounting for one client (the simulator has one: loopback)."""

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._minute = -1
        self._used = 0
        self._backoff_until = 0.0
        self._ignored = 0
        self._banned_until = 0.0
        self._bans = 0

    def charge(self, weight: int, now_s: float) -> WeightDecision:
        """Account one request of ``weight`` made at wall-clock ``now_s``."""
        minute = int(now_s // 60)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        if now_s < self._banned_until:
            return self._refuse(418, self._banned_until, now_s)
        if now_s < self._backoff_until:
            self._ignored += 1
            if self._ignored >= IGNORED_BACKOFFS_BEFORE_BAN:
                return self._ban(now_s)
            return self._refuse(429, self._backoff_until, now_s)
        if self._used + weight > self.limit:
            self._backoff_until = (minute + 1) * 60.0
            self._ignored = 0
            return self._refuse(429, self._backoff_until, now_s)
        self._used += weight
        return WeightDecision(200, self._used)

    def _ban(self, now_s: float) -> WeightDecision:
        length = min(MAX_BAN_S, FIRST_BAN_S * 2**self._bans)
        self._bans += 1
        self._ignored = 0
        self._banned_until = now_s + length
        self._backoff_until = 0.0
        return self._refuse(418, self._banned_until, now_s)

    def _refuse(self, status: int, until: float, now_s: float) -> WeightDecision:
        return WeightDecision(status, self._used, max(1, math.ceil(until - now_s)))
