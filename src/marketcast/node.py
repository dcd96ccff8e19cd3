"""One marketcast node: exchange adapter + store + hub, built from :class:`Settings`.

The same wiring serves live Binance and the simulator: only the base URLs differ, and
``simulated`` makes the difference visible in ``/health``, the logs and the UI.

With ``--store memory`` (the default) the node ingests and serves on its own. With
``--store redis`` nodes share the store: ``all``/``ingest`` nodes contend for the market's
leader lease and only the holder ingests; every node (``api`` ones included) feeds its
clients from the store's change feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from marketcast.config import Settings
from marketcast.exchanges.binance.markets import MARKETS, USDM
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.routing import stream_base
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.hub.candles.bus import Bus
from marketcast.hub.candles.hub import Hub
from marketcast.hub.candles.on_demand import HubLimits
from marketcast.hub.cluster.lease import LeaderLease
from marketcast.hub.cluster.relay import ChangeRelay
from marketcast.hub.indicators.cache import IndicatorCache
from marketcast.hub.symbols.service import SymbolService
from marketcast.hub.tasks import TaskOwner
from marketcast.metrics import LEADER
from marketcast.node_feeds import Feeds, open_feeds, primary_bases
from marketcast.resources import close_together
from marketcast.store.base import CandleStore
from marketcast.store.memory import MemoryStore

OFFLINE_HINT = (
    "Is the exchange reachable from here? Without network, `make demo` runs the hub "
    "against the built-in simulated exchange"
)

log = logging.getLogger(__name__)

_EXIT_STEP_S = 3.0


class Node:
    """``async with Node(settings) as node``: a running hub at ``node.hub``."""

    def __init__(self, settings: Settings, *, simulated: bool = False) -> None:
        self.settings = settings
        self.simulated = simulated
        self._stack = AsyncExitStack()
        self._owner = TaskOwner()
        self.rest: BinanceRest | None = None
        self.stream: KlineStream | None = None
        self.lease: LeaderLease | None = None
        self.relay: ChangeRelay | None = None
        self.symbols: SymbolService | None = None
        self.feeds: Feeds | None = None
        self._hub: Hub | None = None
        self.indicators: IndicatorCache | None = None

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("node not started")
        return self._hub

    @property
    def shared(self) -> bool:
        return self.settings.store == "redis"

    async def __aenter__(self) -> Node:
        s = self.settings
        market = MARKETS[s.market]
        rest_base, ws_base = primary_bases(s, market)
        try:
            rest = BinanceRest(
                rest_base,
                market=market,
                weight_limit=s.weight_limit,
                max_concurrency=s.rest_concurrency,
                outage_hint="" if self.simulated else OFFLINE_HINT,
            )
            self.rest = rest
            self._on_exit("rest client", rest.aclose)
            if s.role != "api":
                self.stream = KlineStream(
                    stream_base(ws_base, market, "kline"),
                    data_timeout=s.data_timeout_s,
                    market=market,
                )
                self._on_exit("exchange stream", self.stream.aclose)
            store = self._store()
            self._on_exit("store", store.aclose)
            bus = Bus(market=market.name)
            indicators = IndicatorCache(store, bus, idle_s=s.on_demand_idle_s)
            self.indicators = indicators
            self._hub = await Hub(
                symbols=s.symbols,
                topics=s.topics,
                exchange=self.rest,
                history=self.rest,
                stream=self.stream,
                store=store,
                bus=bus,
                limits=HubLimits(
                    max_on_demand_topics=s.max_on_demand_topics,
                    on_demand_idle_s=s.on_demand_idle_s,
                ),
                simulated=self.simulated,
                market=market.name,
                ingest=not self.shared,
                publish_locally=not self.shared,
                on_replaced=indicators.invalidate,
            ).__aenter__()
            self._on_exit("hub", self._hub.aclose)
            self._on_exit("indicator caches", indicators.aclose)
            hub = self.hub
            # The catalog is read through the hub each time: the service notices a reload
            # because _load_catalog installs a new mapping.
            self.symbols = SymbolService(lambda: hub.listed, rest.tickers_24h, time.monotonic)
            if self.shared:
                self._start_scale_out(store, bus)
            else:
                LEADER.labels(market.name).set(1)  # alone on its store: it always ingests
            if s.role != "ingest":
                await self._open_feeds(market is USDM)
            self._on_exit("node tasks", self._owner.aclose)
            # Registered last, so it runs first.
            self._on_exit("exchange connections", self._disconnect)
        except BaseException:
            await self._stack.aclose()
            raise
        mode = "SIMULATED exchange" if self.simulated else "Binance"
        log.info(
            "node %s started (role %s, store %s): %d topics from %s (%s)",
            s.node_id,
            s.role,
            s.store,
            len(s.topics),
            mode,
            s.rest_base,
        )
        return self

    async def _open_feeds(self, primary_is_futures: bool) -> None:
        """Order books and trades from the primary market, liquidations from USD-M."""
        s = self.settings
        assert self.rest is not None
        assert self.symbols is not None
        futures_rest = self.rest
        if not primary_is_futures:
            futures_rest = BinanceRest(
                s.futures_rest_base, market=USDM, max_concurrency=s.rest_concurrency
            )
            self._on_exit("futures rest client", futures_rest.aclose)
        self.feeds = await open_feeds(
            s,
            market=self.rest.market,
            rest=self.rest,
            futures_rest=futures_rest,
            symbols=self.symbols,
            on_exit=self._on_exit,
        )

    async def _disconnect(self) -> None:
        """Close every exchange stream at once, before anything else stops.

        Until then market data keeps arriving, and with books, tapes and candles at full
        rate the event loop spends the shutdown processing it: every later step then
        waits behind that work (loaded test runs saw shutdowns past 10 s). What runs on
        afterwards (gap fills, resyncs) is stopped by the next steps.
        """
        streams = [self.stream, *(self.feeds.streams if self.feeds else ())]
        await close_together(*(stream.aclose() for stream in streams if stream is not None))

    def _on_exit(self, what: str, close: Callable[[], Awaitable[None]]) -> None:
        """Run ``close`` at shutdown, but never for longer than a deadline.

        Shutdown drains until a deadline, then cancels: one step stuck on a peer that
        does not answer (a close handshake, an unacknowledged UNSUBSCRIBE) must not keep
        the process from exiting; the steps after it still release their resources.
        """

        async def bounded() -> None:
            started = time.monotonic()
            try:
                async with asyncio.timeout(_EXIT_STEP_S):
                    await close()
            except TimeoutError:
                log.warning("shutdown: %s took over %.0fs; abandoned", what, _EXIT_STEP_S)
            else:
                log.debug("shutdown: %s took %.3fs", what, time.monotonic() - started)

        self._stack.push_async_callback(bounded)

    def _store(self) -> CandleStore:
        s = self.settings
        if not self.shared:
            return MemoryStore(s.buffer_size)
        from marketcast.store.redis import RedisStore

        return RedisStore(s.redis_url, capacity=s.buffer_size, prefix=s.redis_prefix)

    def _start_scale_out(self, store: CandleStore, bus: Bus) -> None:
        from marketcast.store.redis import RedisStore

        assert isinstance(store, RedisStore)
        s = self.settings
        self.relay = ChangeRelay(store, bus)
        self._owner.start(self.relay.run(), name="change-relay")
        if s.role != "api":
            self.lease = LeaderLease(
                s.redis_url,
                market=s.market,
                node_id=s.node_id,
                ttl_s=s.lease_ttl_s,
                prefix=s.redis_prefix,
            )
            self._on_exit("lease release", self.lease.aclose)
            # Exit runs callbacks last-in first-out: stop ingesting, then hand the lease
            # over, so a successor never overlaps with this node's last writes.
            self._on_exit("ingest stop", self.hub.deactivate)
            self._owner.start(
                self.lease.run(self.hub.activate, self.hub.deactivate), name="leader-lease"
            )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def upstream_health(self) -> dict[str, Any]:
        health: dict[str, Any] = {
            "rest_base": self.settings.rest_base,
            "ws_base": self.settings.ws_base,
            "node": {
                "id": self.settings.node_id,
                "role": self.settings.role,
                "ingesting": self._hub is not None and self._hub.active,
                "leader": self.lease.leader if self.lease else None,
                "change_feed": self.relay.connected if self.relay else None,
            },
        }
        stream = self.stream
        if stream is not None and self._hub is not None and self._hub.active:
            connections = stream.connections()
            stats = stream.stats
            health["connected"] = bool(connections) and all(
                c.state == "connected" for c in connections
            )
            health["connections"] = [{"state": c.state, "streams": c.streams} for c in connections]
            health["stream"] = {
                "reconnects": stats.reconnects,
                "messages": stats.messages,
                "malformed_frames": stats.malformed_frames,
            }
        if self.feeds is not None:
            health["feeds"] = self.feeds.status()
        if self.rest is not None:
            rest_stats = self.rest.stats
            health["rest"] = {
                "requests": rest_stats.requests,
                "retries": rest_stats.retries,
                "rate_limited": rest_stats.rate_limited,
                "weight_used": rest_stats.weight_used_last,
            }
        return health
