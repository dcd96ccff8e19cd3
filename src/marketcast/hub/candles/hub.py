"""The hub: owns every topic's sync worker, the exchange stream and on-demand topics.

Data path (the one pipeline every live update takes): exchange stream →
:class:`TopicSync` (gap check, fill, finalize) → store → :class:`Bus` → client
connections. Nothing else writes to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol

from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.errors import NotReady
from marketcast.exchanges.binance.messages import KlineUpdate, Reconnected, SymbolInfo
from marketcast.hub.candles.bus import Bus
from marketcast.hub.candles.history import KlineHistory
from marketcast.hub.candles.on_demand import DEFAULT_LIMITS, HubLimits, OnDemandTopics
from marketcast.hub.candles.readiness import StoredTopics, log_bootstrap
from marketcast.hub.candles.sync import Publish, TopicSync
from marketcast.hub.symbols.catalog import ExchangeCatalog, SymbolCatalog
from marketcast.hub.tasks import TaskOwner
from marketcast.store.interface import CandleStore

log = logging.getLogger(__name__)


def _discard(topic: Topic, candle: Candle, event_ms: int | None = None, /) -> None:
    """Publishing is done by the store's change feed relay (shared store)."""


class TopicStream(Protocol):
    async def set_topics(self, topics: Iterable[Topic]) -> None: ...
    async def add_topics(self, topics: Iterable[Topic]) -> None: ...
    async def remove_topics(self, topics: Iterable[Topic]) -> None: ...
    def events(self) -> AsyncIterator[object]: ...


class Hub:
    """Start with ``async with Hub(...) as hub``; the API reads through it."""

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        topics: Sequence[Topic],
        exchange: ExchangeCatalog,
        history: KlineHistory,
        stream: TopicStream | None,
        store: CandleStore,
        bus: Bus | None = None,
        limits: HubLimits = DEFAULT_LIMITS,
        simulated: bool = False,
        market: str = "spot",
        ingest: bool = True,
        publish_locally: bool = True,
        clock: Callable[[], float] = time.time,
        on_replaced: Callable[[Topic], None] = lambda topic: None,
    ) -> None:
        self.catalog = SymbolCatalog(symbols)
        self.configured = tuple(topics)
        self.simulated = simulated
        self.market = market
        self.store = store
        self.bus = bus or Bus()
        self.limits = limits
        self._exchange = exchange
        self._history = history
        self._stream = stream
        self._clock = clock
        # Told when a topic's stored history is replaced without publishing it (the
        # indicator caches rebuild from the store then).
        self._on_replaced = on_replaced
        self._owner = TaskOwner()
        self._syncs: dict[Topic, TopicSync] = {}
        self._workers: dict[Topic, asyncio.Task[None]] = {}
        self._on_demand = OnDemandTopics(limits)
        self._topic_lock = asyncio.Lock()
        # Ingest starts at once unless a leader lease decides (scale-out). With a shared
        # store the bus is fed from the store's change feed, so the workers don't publish.
        self._ingest_at_start = ingest
        self._publish: Publish = self.bus.publish if publish_locally else _discard
        self.active = False
        self._wants_active = False
        self._pump_task: asyncio.Task[None] | None = None
        self._stored = StoredTopics(store)
        self.started_at = clock()

    # -- the exchange's listing (see SymbolCatalog) -----------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        """The configured symbols the exchange lists."""
        return self.catalog.symbols

    @property
    def listed(self) -> dict[str, SymbolInfo]:
        return self.catalog.listed

    @property
    def unlisted(self) -> tuple[str, ...]:
        return self.catalog.unlisted

    @property
    def catalog_loaded(self) -> asyncio.Event:
        return self.catalog.loaded

    def resolve_symbol(self, given: str) -> str:
        """The exchange id for ``given`` (``btc/usdt`` → ``BTCUSDT``), or UnknownSymbol."""
        return self.catalog.resolve(given)

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Hub:
        self._owner.start(self._start(), name="hub-start")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._owner.aclose()

    async def _start(self) -> None:
        await self._load_catalog()
        self._owner.start(self._release_idle(), name="on-demand-janitor")
        self._owner.start(self._stored.watch(lambda: self.configured), name="store-watch")
        if self._ingest_at_start or self._wants_active:
            await self.activate()
        await log_bootstrap(self.bootstrap_progress, self._clock)

    async def activate(self) -> None:
        """Start ingesting: one sync worker per configured topic, and the stream.

        Returns at once if exchange info is not loaded yet (the lease loop must keep
        renewing); ingest then starts as soon as it is.
        """
        self._wants_active = True
        if not self.catalog_loaded.is_set():
            return
        async with self._topic_lock:
            if self.active or self._stream is None or not self._wants_active:
                return
            self.active = True
            for topic in self.configured:
                self._add_worker(topic)
            await self._stream.set_topics(self.configured)
            if self._pump_task is None:
                self._pump_task = self._owner.start(self._pump(), name="stream-pump")
        log.info("ingest active for %d topics", len(self.configured))

    async def deactivate(self) -> None:
        """Stop ingesting (the leader lease was lost); the store keeps what it has,
        except on-demand topics: no leader would keep them fresh."""
        self._wants_active = False
        async with self._topic_lock:
            if not self.active:
                return
            self.active = False
            workers, self._workers = self._workers, {}
            self._syncs.clear()
            on_demand = self._on_demand.clear()
            for worker in workers.values():
                await self._owner.cancel(worker)
            if self._stream is not None:
                await self._stream.set_topics(())
            for topic in on_demand:
                with contextlib.suppress(Exception):  # store down: it is stale either way
                    await self.store.forget(topic)
        log.warning("ingest stopped on this node")

    async def _load_catalog(self) -> None:
        await self.catalog.load(self._exchange)
        self.configured = tuple(t for t in self.configured if t.symbol in self.listed)

    def _add_worker(self, topic: Topic) -> TopicSync:
        sync = TopicSync(
            topic,
            self.store,
            self._history,
            self._publish,
            self.now_ms,
            on_replaced=self._on_replaced,
            market=self.market,
        )
        self._syncs[topic] = sync
        self._workers[topic] = self._owner.start(sync.run(), name=f"sync {topic}")
        return sync

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    @property
    def _upstream(self) -> TopicStream:
        if self._stream is None:
            raise RuntimeError("this node has no exchange stream (api role)")
        return self._stream

    async def _pump(self) -> None:
        async for event in self._upstream.events():
            if isinstance(event, KlineUpdate):
                sync = self._syncs.get(event.topic)
                if sync is not None:
                    sync.offer(event.candle, event.event_time)
            elif isinstance(event, Reconnected):
                for topic in event.topics:
                    if (sync := self._syncs.get(topic)) is not None:
                        sync.request_resync()

    # -- reading ---------------------------------------------------------------------
    @property
    def topics(self) -> list[Topic]:
        return list(self._syncs)

    def sync_of(self, topic: Topic) -> TopicSync | None:
        return self._syncs.get(topic)

    def dead_workers(self) -> list[Topic]:
        """Topics whose worker has stopped: their charts would freeze, so health says so."""
        return [topic for topic, task in self._workers.items() if task.done()]

    def bootstrap_progress(self) -> tuple[int, int]:
        if self.active:
            ready = [t for t in self.configured if (s := self._syncs.get(t)) and s.ready.is_set()]
        else:
            ready = [t for t in self.configured if t in self._stored]
        return len(ready), len(self.configured)

    @property
    def ready(self) -> bool:
        done, total = self.bootstrap_progress()
        return self.catalog_loaded.is_set() and done == total

    async def topic_ready(self, topic: Topic) -> None:
        """Return once ``topic`` can be served; starts an on-demand topic if needed."""
        if not self.catalog_loaded.is_set():
            await self._stored_before_catalog(topic)
            return
        if not self.active:
            timeout_s = self.limits.on_demand_ready_timeout_s
            await self._stored.wait_for(topic, self.configured, timeout_s)
            return
        sync = self._syncs.get(topic) or await self._start_on_demand(topic)
        self._on_demand.touch(topic, self._clock())
        async with asyncio.timeout(self.limits.on_demand_ready_timeout_s):
            await sync.ready.wait()

    def serving(self, topic: Topic) -> bool:
        """Whether :meth:`topic_ready` would return at once for ``topic``; touches an
        on-demand topic as it does, so a topic read only this way still counts as used."""
        if not (self.catalog_loaded.is_set() and self.active):
            return False
        sync = self._syncs.get(topic)
        if sync is None or not sync.ready.is_set():
            return False
        self._on_demand.touch(topic, self._clock())
        return True

    async def _stored_before_catalog(self, topic: Topic) -> None:
        """Until exchange info loads (the exchange may be unreachable), a configured topic
        the store already holds (Redis after a restart) is served as stored; its live
        updates follow once ingest starts, filled from its last candle first."""
        if topic in self.configured and await self.store.last(topic) is not None:
            return
        raise NotReady("exchange info not loaded yet (is the exchange reachable?); retry")

    # -- on-demand topics ------------------------------------------------------------
    async def _start_on_demand(self, topic: Topic) -> TopicSync:
        async with self._topic_lock:
            if (existing := self._syncs.get(topic)) is not None:
                return existing
            if not self.active:  # stepped down meanwhile: never ingest without the lease
                raise NotReady("this node stopped ingesting; retry")
            self.catalog.require_listed(topic.symbol)
            self._on_demand.admit(topic, self._clock(), self.symbols)
            sync = self._add_worker(topic)
            try:
                await self._upstream.add_topics([topic])
            except Exception:
                # A topic the stream refuses (1s on USD-M) would otherwise stay with a
                # worker retrying forever and a slot counted against the cap.
                await self._drop_on_demand(topic)
                raise
            log.info("on-demand topic %s started", topic)
            return sync

    async def _drop_on_demand(self, topic: Topic) -> None:
        """Forget ``topic``'s on-demand entry and stop its worker (caller holds the lock)."""
        self._on_demand.discard(topic)
        self._syncs.pop(topic, None)
        worker = self._workers.pop(topic, None)
        if worker is not None:
            await self._owner.cancel(worker)

    async def _release_idle(self) -> None:
        while True:
            await asyncio.sleep(min(10.0, self.limits.on_demand_idle_s / 2))
            idle = [topic for topic in self._on_demand if self._idle(topic)]
            for topic in idle:
                try:
                    await self._stop_on_demand(topic)
                except Exception:
                    log.exception("could not release on-demand topic %s", topic)

    def _idle(self, topic: Topic) -> bool:
        subscribers = self.bus.subscriber_count(topic)
        return self._on_demand.idle(topic, self._clock(), subscribers)

    async def _stop_on_demand(self, topic: Topic) -> None:
        async with self._topic_lock:
            # Checked again under the lock: a client may have started using the topic
            # while an earlier release in the same sweep was awaiting.
            if not self._idle(topic):
                return
            await self._drop_on_demand(topic)
            await self._upstream.remove_topics([topic])
            await self.store.forget(topic)
            log.info("on-demand topic %s released after idling", topic)

    def is_on_demand(self, topic: Topic) -> bool:
        return topic in self._on_demand
