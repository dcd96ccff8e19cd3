"""The hub: owns every topic's sync worker, the exchange stream and on-demand topics.

Data path (SPEC 1.1): exchange stream → :class:`TopicSync` (gap check, fill, finalize) →
store → :class:`Bus` → client connections. Nothing else writes to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from marketcast.domain.candles import Candle
from marketcast.domain.symbols import normalize_symbol, suggest_symbols
from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded, NotReady, UnknownSymbol
from marketcast.exchanges.binance.messages import KlineUpdate, Reconnected, SymbolInfo
from marketcast.hub.bus import Bus
from marketcast.hub.indicators import IndicatorCache
from marketcast.hub.ports import KlineHistory
from marketcast.hub.sync import Publish, TopicSync
from marketcast.hub.tasks import TaskOwner
from marketcast.store.base import CandleStore

log = logging.getLogger(__name__)


def _discard(topic: Topic, candle: Candle, event_ms: int | None = None, /) -> None:
    """Publishing is done by the store's change feed relay (shared store)."""


class ExchangeCatalog(Protocol):
    async def exchange_info(self) -> list[SymbolInfo]: ...


class TopicStream(Protocol):
    async def set_topics(self, topics: Iterable[Topic]) -> None: ...
    async def add_topics(self, topics: Iterable[Topic]) -> None: ...
    async def remove_topics(self, topics: Iterable[Topic]) -> None: ...
    def events(self) -> AsyncIterator[object]: ...


@dataclass(frozen=True, slots=True)
class HubLimits:
    max_on_demand_topics: int = 50
    on_demand_idle_s: float = 300.0
    on_demand_ready_timeout_s: float = 30.0


@dataclass(slots=True)
class _OnDemand:
    last_used: float


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
        limits: HubLimits = HubLimits(),
        simulated: bool = False,
        ingest: bool = True,
        publish_locally: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.symbols = tuple(symbols)
        self.configured = tuple(topics)
        self.simulated = simulated
        self.store = store
        self.bus = bus or Bus()
        self.limits = limits
        self.indicators = IndicatorCache(store, self.bus, idle_s=limits.on_demand_idle_s)
        self._exchange = exchange
        self._history = history
        self._stream = stream
        self._clock = clock
        self._owner = TaskOwner()
        self._syncs: dict[Topic, TopicSync] = {}
        self._workers: dict[Topic, asyncio.Task[None]] = {}
        self._on_demand: dict[Topic, _OnDemand] = {}
        self._topic_lock = asyncio.Lock()
        # Ingest starts at once unless a leader lease decides (scale-out). With a shared
        # store the bus is fed from the store's change feed, so the workers don't publish.
        self._ingest_at_start = ingest
        self._publish: Publish = self.bus.publish if publish_locally else _discard
        self.active = False
        self._wants_active = False
        self._pump_task: asyncio.Task[None] | None = None
        self._stored: set[Topic] = set()
        self.listed: dict[str, SymbolInfo] = {}
        self.unlisted: tuple[str, ...] = ()
        self.catalog_loaded = asyncio.Event()
        self.started_at = clock()

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Hub:
        self._owner.start(self._start(), name="hub-start")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.indicators.aclose()
        await self._owner.aclose()

    async def _start(self) -> None:
        await self._load_catalog()
        self._owner.start(self._release_idle(), name="on-demand-janitor")
        self._owner.start(self._watch_store(), name="store-watch")
        if self._ingest_at_start or self._wants_active:
            await self.activate()
        await self._report_bootstrap()

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
            on_demand, self._on_demand = list(self._on_demand), {}
            for worker in workers.values():
                await self._owner.cancel(worker)
            if self._stream is not None:
                await self._stream.set_topics(())
            for topic in on_demand:
                with contextlib.suppress(Exception):  # store down: it is stale either way
                    await self.store.forget(topic)
        log.warning("ingest stopped on this node")

    async def _watch_store(self) -> None:
        """Track which configured topics the (shared) store already holds: a node that
        does not ingest is ready once the store serves every configured topic."""
        while len(self._stored) < len(self.configured):
            for topic in self.configured:
                if topic not in self._stored:
                    with contextlib.suppress(Exception):  # store down: look again later
                        if await self.store.last(topic) is not None:
                            self._stored.add(topic)
            await asyncio.sleep(0.25)

    async def _report_bootstrap(self) -> None:
        """Log bootstrap progress until every configured topic is ready."""
        started = self._clock()
        reported = -1
        while True:
            done, total = self.bootstrap_progress()
            if done != reported:
                log.info("bootstrap %d/%d topics ready", done, total)
                reported = done
            if done == total:
                log.info("bootstrap complete in %.2fs", self._clock() - started)
                return
            await asyncio.sleep(0.25)

    async def _load_catalog(self) -> None:
        delay = 0.5
        while True:
            try:
                infos = await self._exchange.exchange_info()
            except Exception as error:  # the exchange may be unreachable at boot: keep trying
                log.warning("exchange info unavailable, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.listed = {info.symbol: info for info in infos}
            # A configured symbol the exchange no longer lists cannot be served; keeping
            # its topics would retry rejected REST calls forever and never become ready.
            self.unlisted = tuple(s for s in self.symbols if s not in self.listed)
            if self.unlisted:
                log.error("configured symbols not listed by the exchange: %s", self.unlisted)
                self.symbols = tuple(s for s in self.symbols if s in self.listed)
                self.configured = tuple(t for t in self.configured if t.symbol in self.listed)
            self.catalog_loaded.set()
            return

    def _add_worker(self, topic: Topic) -> TopicSync:
        sync = TopicSync(
            topic,
            self.store,
            self._history,
            self._publish,
            self.now_ms,
            on_replaced=self.indicators.invalidate,
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

    def resolve_symbol(self, given: str) -> str:
        """The exchange id for ``given`` (``btc/usdt`` → ``BTCUSDT``), or UnknownSymbol."""
        if not self.catalog_loaded.is_set():
            raise NotReady("exchange info not loaded yet (is the exchange reachable?); retry")
        symbol = normalize_symbol(given)
        if symbol in self.symbols or symbol in self.listed:
            return symbol
        pool = self.listed.keys() if self.listed else self.symbols
        raise UnknownSymbol(given, suggest_symbols(given, pool))

    async def topic_ready(self, topic: Topic) -> None:
        """Return once ``topic`` can be served; starts an on-demand topic if needed."""
        if not self.active:
            await self._stored_ready(topic)
            return
        sync = self._syncs.get(topic) or await self._start_on_demand(topic)
        if topic in self._on_demand:
            self._on_demand[topic].last_used = self._clock()
        async with asyncio.timeout(self.limits.on_demand_ready_timeout_s):
            await sync.ready.wait()

    async def _stored_ready(self, topic: Topic) -> None:
        """On a node that does not ingest, a topic is servable once the store holds it."""
        if topic not in self.configured:
            # An on-demand topic lives only as long as the leader that started it wants
            # it; a node that does not ingest cannot keep it alive, so it serves only the
            # configured topics rather than a series that may freeze without notice.
            raise CapacityExceeded(
                f"{topic} is not configured; this node does not ingest, and on-demand "
                "topics are served by the ingest leader only (or configure the symbol)"
            )
        # Another node fills the shared store, so there is no local event to wait for.
        async with asyncio.timeout(self.limits.on_demand_ready_timeout_s):
            while await self.store.last(topic) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.1)

    # -- on-demand topics ------------------------------------------------------------
    async def _start_on_demand(self, topic: Topic) -> TopicSync:
        async with self._topic_lock:
            if (existing := self._syncs.get(topic)) is not None:
                return existing
            if not self.active:  # stepped down meanwhile: never ingest without the lease
                raise NotReady("this node stopped ingesting; retry")
            if topic.symbol not in self.listed:
                raise UnknownSymbol(topic.symbol, suggest_symbols(topic.symbol, self.listed))
            if len(self._on_demand) >= self.limits.max_on_demand_topics:
                raise CapacityExceeded(
                    f"on-demand topic limit reached ({self.limits.max_on_demand_topics}); "
                    f"configured symbols: {', '.join(self.symbols)}"
                )
            self._on_demand[topic] = _OnDemand(last_used=self._clock())
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
        self._on_demand.pop(topic, None)
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
        usage = self._on_demand.get(topic)
        return (
            usage is not None
            and self.bus.subscriber_count(topic) == 0
            and self._clock() - usage.last_used > self.limits.on_demand_idle_s
        )

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
