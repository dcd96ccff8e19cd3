"""Which topics were started on demand, when each was last used, and when to release one.

Pure bookkeeping (time passed in): the hub starts and stops the topics' workers, this
decides whether one more may start and which have idled long enough to release.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded


@dataclass(frozen=True, slots=True)
class HubLimits:
    max_on_demand_topics: int = 50
    on_demand_idle_s: float = 300.0
    on_demand_ready_timeout_s: float = 30.0


DEFAULT_LIMITS: Final = HubLimits()


class OnDemandTopics:
    """On-demand topics by last use, capped at ``limits.max_on_demand_topics``."""

    def __init__(self, limits: HubLimits) -> None:
        self.limits = limits
        self._last_used: dict[Topic, float] = {}

    def __contains__(self, topic: object) -> bool:
        return topic in self._last_used

    def __len__(self) -> int:
        return len(self._last_used)

    def __iter__(self) -> Iterator[Topic]:
        return iter(list(self._last_used))

    def admit(self, topic: Topic, now: float, configured: Sequence[str]) -> None:
        """Count ``topic`` in, or raise CapacityExceeded naming the configured symbols."""
        if len(self._last_used) >= self.limits.max_on_demand_topics:
            raise CapacityExceeded(
                f"on-demand topic limit reached ({self.limits.max_on_demand_topics}); "
                f"configured symbols: {', '.join(configured)}"
            )
        self._last_used[topic] = now

    def touch(self, topic: Topic, now: float) -> None:
        if topic in self._last_used:
            self._last_used[topic] = now

    def idle(self, topic: Topic, now: float, subscribers: int) -> bool:
        """Whether ``topic`` has had no subscriber and no use for the idle timeout."""
        last_used = self._last_used.get(topic)
        return (
            last_used is not None
            and subscribers == 0
            and now - last_used > self.limits.on_demand_idle_s
        )

    def discard(self, topic: Topic) -> None:
        self._last_used.pop(topic, None)

    def clear(self) -> list[Topic]:
        """Forget every topic; return them."""
        topics, self._last_used = list(self._last_used), {}
        return topics
