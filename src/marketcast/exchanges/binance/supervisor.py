"""Keeping one logical connection (a *slot* of up to 1024 streams) connected, forever.

- Any failure (drop, refused connect, stall caught by the data watchdog) -> a
  ``Disconnected`` event, backoff with full jitter, reconnect, then ``Reconnected``.
- A ``serverShutdown`` notice, or the connection reaching ``max_age`` (Binance cuts
  connections at 24 h) -> a replacement is opened *before* the old connection is closed.
  The old one keeps delivering until the new one has delivered a kline and the old one
  has caught up with it, so nothing is missed; duplicates during the overlap are fine
  (the hub upserts idempotently). ``Reconnected`` is still emitted: the hub's fill is
  then a cheap no-op.

``Reconnected`` always precedes the first update of the connection it announces. The
very first connect of a slot emits nothing: there was no earlier data to miss.

A slot also carries raw market streams (``btcusdt@depth``, ``btcusdt@trade``...). They
are announced by ``StreamsReconnected`` right after ``Reconnected``, and during a
replacement only the new connection delivers them once it is live (they have no
idempotent upsert to absorb the overlap). ``Reconnected`` and ``Disconnected`` are left
out for a slot that carries raw streams only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from websockets.asyncio.client import connect

from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.limits import Backoff
from marketcast.exchanges.binance.link import Emit, Link, LinkCounters
from marketcast.exchanges.binance.messages import (
    Disconnected,
    Reconnected,
    StreamEvent,
    StreamsReconnected,
)
from marketcast.exchanges.binance.partition import combined_url, split_for_url
from marketcast.metrics import UPSTREAM_RECONNECTS
from marketcast.outages import OutageLog
from marketcast.resources import cancel_and_wait

log = logging.getLogger(__name__)

ConnectionState = Literal["connecting", "connected", "reconnecting"]


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How every connection of one stream client is opened and watched (seconds)."""

    ws_base: str
    ping_interval: float
    ping_timeout: float
    data_timeout: float
    ack_timeout: float
    max_age: float
    close_timeout: float = 2.0


@dataclass
class StreamCounters(LinkCounters):
    reconnects: int = 0


class SlotSupervisor:
    """Owns the topics and raw streams of one slot and the task that keeps them subscribed."""

    def __init__(
        self,
        index: int,
        topics: dict[str, Topic],
        *,
        settings: LinkSettings,
        backoff: Backoff,
        emit: Emit,
        counters: StreamCounters,
        market_streams: Iterable[str] = (),
    ) -> None:
        self.index = index
        self.topics = topics  # by stream name
        self.market_streams: set[str] = set(market_streams)
        self.state: ConnectionState = "connecting"
        self.links: set[Link] = set()
        self._changed = asyncio.Event()
        self._settings = settings
        self._backoff = backoff
        self._emit = emit
        self._counters = counters
        self._task: asyncio.Task[None] | None = None
        self._outage = OutageLog(f"exchange stream at {settings.ws_base} (slot {index})")

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"binance-slot-{self.index}")

    @property
    def load(self) -> int:
        """How many streams this slot carries."""
        return len(self.topics) + len(self.market_streams)

    def stream_names(self) -> set[str]:
        """Every stream this slot must be subscribed to: kline topics and raw streams."""
        return self.topics.keys() | self.market_streams

    def topics_changed(self) -> None:
        """Bring the live connection's subscriptions in line with :attr:`topics` and
        :attr:`market_streams`."""
        self._changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    def _snapshot(self) -> frozenset[Topic]:
        return frozenset(self.topics.values())

    def _announces_topics(self) -> bool:
        # A slot of raw streams only has no kline topics to announce.
        return bool(self.topics) or not self.market_streams

    def _reconnect_events(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self._announces_topics():
            events.append(Reconnected(self._snapshot()))
        if self.market_streams:
            events.append(StreamsReconnected(frozenset(self.market_streams)))
        return events

    async def _supervise(self) -> None:
        try:
            link = await self._open_until_live(announce=False)
            while True:
                try:
                    link = await self._keep(link)
                except Exception:  # a bug here must not end supervision silently
                    log.exception("slot %d: supervision failed; starting over", self.index)
                    link = await self._start_over()
        finally:
            for link in list(self.links):
                await self._close_link(link)

    async def _keep(self, link: Link) -> Link:
        """Wait for trouble on ``link``; return its successor."""
        age = asyncio.get_running_loop().time() - link.opened_at
        try:
            async with asyncio.timeout(max(self._settings.max_age - age, 0.0)):
                await link.trouble.wait()
        except TimeoutError:
            log.info("slot %d: connection reached its age limit, replacing it", self.index)
            return await self._replace(link)
        if not link.ended.done():
            return await self._replace(link)  # serverShutdown notice
        if link.first_kline.is_set():
            self._backoff.reset()  # data flowed: this was a working connection
        reason = link.ended.result()
        log.warning("slot %d: %s; reconnecting", self.index, reason)
        self.state = "reconnecting"
        await self._close_link(link)
        if self._announces_topics():
            await self._emit(Disconnected(self._snapshot(), reason))
        await asyncio.sleep(self._backoff.next_delay())
        return await self._open_until_live(announce=True)

    async def _start_over(self) -> Link:
        self.state = "reconnecting"
        for link in list(self.links):
            await self._close_link(link)
        await asyncio.sleep(self._backoff.next_delay())
        return await self._open_until_live(announce=True)

    async def _replace(self, old: Link) -> Link:
        new = await self._open_with_retries()
        data_timeout = self._settings.data_timeout
        # Give the new connection a bounded chance to prove it delivers data.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(data_timeout):
                await new.first_kline.wait()
        await self._go_live(new, announce=True)
        old.mute_market_streams()
        if new.first_event_time is not None:
            old.watch_catch_up(new.first_event_time)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(data_timeout):
                    await old.caught_up.wait()
        await self._close_link(old)
        return new

    async def _open_until_live(self, *, announce: bool) -> Link:
        link = await self._open_with_retries()
        await self._go_live(link, announce=announce)
        return link

    async def _go_live(self, link: Link, *, announce: bool) -> None:
        self.state = "connected"
        if announce:
            self._counters.reconnects += 1
            UPSTREAM_RECONNECTS.labels(self._counters.market).inc()
        await link.go_live(self._reconnect_events() if announce else ())
        link.follow(self._changed, self.stream_names)

    async def _open_with_retries(self) -> Link:
        while True:
            try:
                link = await self._open()
            except Exception as exc:  # any failure to connect is retried, with backoff
                if all(link.ended.done() for link in self.links):
                    self.state = "reconnecting"
                delay = self._backoff.next_delay()
                self._outage.failed(f"connect failed ({exc!r})", retry_in_s=delay)
                await asyncio.sleep(delay)
            else:
                self._outage.succeeded()
                return link

    async def _open(self) -> Link:
        settings = self._settings
        in_url, _ = split_for_url(self.stream_names())
        ws = await connect(
            combined_url(settings.ws_base, in_url),
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            close_timeout=settings.close_timeout,
        )
        link = Link(
            ws,
            in_url,
            emit=self._emit,
            counters=self._counters,
            data_timeout=settings.data_timeout,
            ack_timeout=settings.ack_timeout,
        )
        self.links.add(link)
        link.start()
        try:
            await link.sync(self.stream_names())  # the streams that did not fit in the URL
        except BaseException:
            await self._close_link(link)
            raise
        return link

    async def _close_link(self, link: Link) -> None:
        self.links.discard(link)
        await link.close()
