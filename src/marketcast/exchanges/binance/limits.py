"""How fast marketcast may talk to Binance: REST weight, retry backoff, control messages.

Pure timing decisions. Every method takes ``now`` (seconds, wall clock for the weight
budget since Binance counts weight per calendar minute) and returns how long to wait;
the async shell does the sleeping.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

MINUTE_S = 60.0
# Weight is counted by Binance per calendar minute; waking a hair after the boundary
# avoids racing the server's own rollover.
_ROLLOVER_MARGIN_S = 0.05


class WeightBudget:
    """REST request weight spent in the current minute, kept under a safety margin.

    Binance reports the weight it has counted for this IP in ``X-MBX-USED-WEIGHT-1M``;
    locally reserved weight covers requests still in flight. Both are combined
    conservatively (the larger wins). A 429/418 blocks every caller until its
    ``Retry-After`` has passed, whatever the budget says.
    """

    def __init__(self, limit: int = 6000, *, safety: float = 0.9) -> None:
        if limit <= 0 or not 0 < safety <= 1:
            raise ValueError("limit must be positive and safety in (0, 1]")
        self.limit = limit
        self.ceiling = int(limit * safety)
        self._minute = -1
        self._used = 0
        self._blocked_until = 0.0

    @property
    def used(self) -> int:
        """Weight counted in the minute last seen."""
        return self._used

    def delay_for(self, weight: int, now: float) -> float:
        """Seconds to wait before spending ``weight`` (0 means go now)."""
        if now < self._blocked_until:
            return self._blocked_until - now
        self._roll(now)
        # A request heavier than the whole ceiling could never fit; let it go alone.
        if self._used + weight <= self.ceiling or self._used == 0:
            return 0.0
        return (self._minute + 1) * MINUTE_S - now + _ROLLOVER_MARGIN_S

    def delay_within(self, weight: int, share: float, now: float) -> float:
        """Like :meth:`delay_for`, for a caller that may spend only ``share`` of the
        ceiling (older history must never crowd out the live feeds)."""
        if now < self._blocked_until:
            return self._blocked_until - now
        self._roll(now)
        if self._used + weight <= self.ceiling * share:
            return 0.0
        return (self._minute + 1) * MINUTE_S - now + _ROLLOVER_MARGIN_S

    def reserve(self, weight: int, now: float) -> None:
        """Count ``weight`` as spent now (call right after :meth:`delay_for` returned 0)."""
        self._roll(now)
        self._used += weight

    def record_used(self, used: int, now: float) -> None:
        """Take in the server's ``X-MBX-USED-WEIGHT-1M`` for the current minute."""
        self._roll(now)
        self._used = max(self._used, used)

    def on_rate_limited(self, retry_after: float, now: float) -> None:
        """Block everything until ``now + retry_after``."""
        self._blocked_until = max(self._blocked_until, now + max(retry_after, 0.0))

    def blocked_for(self, now: float) -> float:
        """Seconds left of a 429/418 block (0 when none)."""
        return max(self._blocked_until - now, 0.0)

    def _roll(self, now: float) -> None:
        minute = int(now // MINUTE_S)
        if minute != self._minute:
            self._minute = minute
            self._used = 0


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**n))``.

    Full jitter spreads reconnecting clients so they do not hit the exchange in step.
    ``reset`` after a success starts the next failure series at ``base`` again.
    """

    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def ceiling(self) -> float:
        """Largest delay the next call may return."""
        # The exponent is bounded so a long outage cannot overflow a float.
        return float(min(self.cap, self.base * self.factor ** min(self.attempts, 64)))

    def next_delay(self) -> float:
        delay = self.rng.uniform(0.0, self.ceiling())
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0

    def fresh(self) -> Backoff:
        """Same policy and random source, no failures yet: one per connection."""
        return Backoff(self.base, self.cap, self.factor, self.rng)


class MessagePacer:
    """Keeps outgoing control messages under a per-second cap.

    Binance spot counts pings, pongs and JSON requests against 5 incoming messages per
    second per connection and disconnects beyond that; the default of 3 leaves room for
    the keepalive pings and pongs the WebSocket library sends on its own.
    """

    def __init__(self, max_messages: int = 3, per_seconds: float = 1.0) -> None:
        if max_messages <= 0 or per_seconds <= 0:
            raise ValueError("max_messages and per_seconds must be positive")
        self.max_messages = max_messages
        self.per_seconds = per_seconds
        self._sent: deque[float] = deque()

    def delay_for(self, now: float) -> float:
        """Seconds to wait before the next message may be sent."""
        # Compare expiry times computed one way only, so float rounding cannot let a
        # message through while the window still counts as full.
        while self._sent and self._sent[0] + self.per_seconds <= now:
            self._sent.popleft()
        if len(self._sent) < self.max_messages:
            return 0.0
        return self._sent[0] + self.per_seconds - now

    def record(self, now: float) -> None:
        self._sent.append(now)
