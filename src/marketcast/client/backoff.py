"""Capped exponential backoff with jitter, as a pure object (the caller does the waiting)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of ``first * 2**n`` seconds, capped at ``cap``, each drawn uniformly from
    its upper half.

    The jitter keeps many clients of one restarted hub from reconnecting in lockstep;
    drawing from the upper half keeps the growth, so a hub that stays down is asked ever
    less often. :meth:`reset` after a success starts over from ``first``.
    """

    first: float = 0.5
    cap: float = 30.0
    uniform: Callable[[float, float], float] = field(default=random.uniform, repr=False)
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.first * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return self.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0
