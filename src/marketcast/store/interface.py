"""The store interface both backends implement, and the read model it returns.

The store is the single source of truth: the hub publishes a candle only after the store
holds it. Reads select by open time in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.topics import Topic


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """What ``/streaming/status`` and ``/inspect`` show for one topic."""

    topic: Topic
    count: int
    first: Candle | None
    last: Candle | None
    updated_at_ms: int | None
    exchange_gaps: tuple[TimeRange, ...] = field(default=())


class CandleStore(Protocol):
    """Candle history per topic, bounded to ``capacity`` candles each."""

    capacity: int

    async def upsert(self, topic: Topic, candle: Candle, *, now_ms: int) -> Candle | None:
        """Store ``candle`` under the version rules; return the stored version if it changed."""
        ...

    async def upsert_many(
        self, topic: Topic, candles: Sequence[Candle], *, now_ms: int
    ) -> list[Candle]:
        """Upsert in order; return the candles that changed the store."""
        ...

    async def replace(self, topic: Topic, candles: Sequence[Candle], *, now_ms: int) -> None:
        """Replace a topic's whole history (bootstrap)."""
        ...

    async def last(self, topic: Topic) -> Candle | None: ...

    def revision(self, topic: Topic) -> int | None:
        """A number that changes whenever what :meth:`read` returns for ``topic`` may have
        changed, and never comes back; ``None`` when the store cannot tell without a round
        trip (then nothing read from it may be cached)."""
        ...

    async def read(
        self,
        topic: Topic,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
    ) -> list[Candle]:
        """Up to ``limit`` candles, oldest first.

        With ``since``: the oldest ones opening at or after it. Otherwise the newest ones,
        opening strictly before ``before`` when given.
        """
        ...

    async def open_times(self, topic: Topic) -> list[int]:
        """Every stored open time, oldest first: continuity checks without candle reads."""
        ...

    async def add_exchange_gaps(self, topic: Topic, gaps: Iterable[TimeRange]) -> None:
        """Record ranges the exchange has no candles for, so they are not refetched forever."""
        ...

    async def info(self, topic: Topic) -> TopicInfo: ...

    async def topics(self) -> list[Topic]: ...

    async def forget(self, topic: Topic) -> None:
        """Drop a topic's history and metadata (an on-demand topic being released)."""
        ...

    async def aclose(self) -> None: ...
