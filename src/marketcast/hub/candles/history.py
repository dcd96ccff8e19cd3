"""What the hub needs from an exchange: the REST side, as a protocol.

The Binance adapter implements it; so does the simulator (it speaks the same protocol
through the same adapter), which keeps the hub ignorant of exchange wire formats.
"""

from __future__ import annotations

from typing import Protocol

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.topics import Topic


class KlineHistory(Protocol):
    async def klines(
        self,
        topic: Topic,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 1000,
        closed_before: int | None = None,
    ) -> list[Candle]: ...

    async def klines_range(
        self, topic: Topic, rng: TimeRange, *, closed_before: int | None
    ) -> list[Candle]: ...

    async def latest_klines(self, topic: Topic, count: int) -> list[Candle]: ...
