"""The streams a :class:`~marketcast.client.Client` hands out: async iterators that own
their socket, with the copy they keep in view.

Each is also an async context manager; leaving the block (or :meth:`Stream.aclose`)
closes the socket. The copy advances as the stream is iterated: a stream nobody iterates
holds still, and the hub eventually closes its socket as a slow consumer, which the next
iteration resumes from.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from decimal import Decimal
from typing import Any, Generic, Self, TypeVar

from marketcast.client.backoff import Backoff
from marketcast.client.book import BookChannel, Level, OrderBook
from marketcast.client.channels import CandleChannel, Channel, TradeChannel
from marketcast.client.connection import Endpoint, Link, follow
from marketcast.client.events import Reset
from marketcast.client.series import Candle, CandleSeries
from marketcast.client.trades import Trade, TradeTape
from marketcast.resources import AsyncResource

T = TypeVar("T")


class Stream(AsyncResource, Generic[T]):
    """One subscription's events; ``link`` tells how its socket fares."""

    def __init__(
        self,
        endpoint: Endpoint,
        channel: Channel[T],
        *,
        backoff: Backoff | None = None,
        on_close: Callable[[Stream[Any]], None] | None = None,
    ) -> None:
        self.link = Link()
        self._events: AsyncGenerator[T, None] = follow(endpoint, channel, self.link, backoff)
        self._on_close = on_close
        self._closed = False
        self._reading = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        self._reading = True
        try:
            return await anext(self._events)
        finally:
            self._reading = False

    async def aclose(self) -> None:
        """Close the socket and end the iteration (also from another task)."""
        if self._closed:
            return
        self._closed = True
        await self.link.close()
        if not self._reading:
            await self._events.aclose()  # else the reading task ends on the closed link
        if self._on_close is not None:
            self._on_close(self)


class CandleStream(Stream[Candle | Reset]):
    """Candles of one topic: the snapshot oldest first, then every change.

    :attr:`series` is the exact series held; a consumer that upserts what is yielded by
    ``time`` and clears its copy on :class:`Reset` holds the same.
    """

    def __init__(self, endpoint: Endpoint, channel: CandleChannel, **options: Any) -> None:
        super().__init__(endpoint, channel, **options)
        self._channel = channel

    @property
    def series(self) -> CandleSeries:
        return self._channel.series

    @property
    def live(self) -> bool:
        """Whether the series is current: subscribed, not reconnecting."""
        return self._channel.live


class TradeStream(Stream[Trade | Reset]):
    """Trades of one symbol in id order, without a hole; :attr:`tape` holds the newest."""

    def __init__(self, endpoint: Endpoint, channel: TradeChannel, **options: Any) -> None:
        super().__init__(endpoint, channel, **options)
        self._channel = channel

    @property
    def tape(self) -> TradeTape:
        return self._channel.tape

    @property
    def live(self) -> bool:
        return self._channel.live


class BookStream(Stream[OrderBook]):
    """An order book kept exact; yields the book after every snapshot and change."""

    def __init__(self, endpoint: Endpoint, channel: BookChannel, **options: Any) -> None:
        super().__init__(endpoint, channel, **options)
        self._channel = channel

    @property
    def book(self) -> OrderBook:
        return self._channel.book

    @property
    def bids(self) -> list[Level]:
        """Bids, highest price first, as ``(price, quantity)`` decimals."""
        return self.book.bids

    @property
    def asks(self) -> list[Level]:
        """Asks, lowest price first, as ``(price, quantity)`` decimals."""
        return self.book.asks

    @property
    def last_update_id(self) -> int | None:
        """The exchange's update id the book is at."""
        return self.book.last_update_id

    @property
    def exact(self) -> bool:
        """``False`` when the hub only serves the aggregated view (no ``depth`` channel)."""
        return self.book.exact

    @property
    def synced(self) -> bool:
        """Whether the book is current: ``False`` from a disconnect to the next snapshot."""
        return self._channel.synced

    @property
    def snapshots(self) -> int:
        """Snapshots loaded: the first, then one per reconnect, hub resync or lost chain."""
        return self._channel.snapshots

    def spread(self) -> Decimal | None:
        bid, ask = self.book.best_bid, self.book.best_ask
        return None if bid is None or ask is None else ask[0] - bid[0]
