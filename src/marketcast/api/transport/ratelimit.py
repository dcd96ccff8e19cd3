"""Rate limiting: a pure token bucket (time passed in), for client messages and handshakes."""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float, now: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._tokens = burst
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def full(self, now: float) -> bool:
        """Whether the bucket has refilled completely (it may be forgotten then)."""
        return self._tokens + (now - self._at) * self.rate >= self.burst
