"""One market of a node (spot or USD-M): everything a market has of its own.

Its exchange clients (so its own REST weight budget, exchange info and connections), its
candle store keys, bus, hub and indicator caches, its order books and trade tapes, and
with Redis its ingest leader lease and the relay of its store's change feed. The two
markets of a node run side by side and share nothing but the process; a node's
liquidations (always USD-M) are the node's, not a market's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from marketcast.config import Settings
from marketcast.exchanges.binance.markets import SPOT, MarketSpec
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.routing import stream_base
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.hub.candles.bus import Bus
from marketcast.hub.candles.hub import Hub
from marketcast.hub.candles.on_demand import HubLimits
from marketcast.hub.cluster.relay import ChangeRelay
from marketcast.hub.history.older import OlderHistory
from marketcast.hub.indicators.cache import IndicatorCache
from marketcast.hub.symbols.service import SymbolService
from marketcast.hub.tasks import TaskOwner
from marketcast.metrics import LEADER
from marketcast.node_feeds import MarketFeeds, OnExit, market_bases, open_market_feeds
from marketcast.store.interface import CandleStore
from marketcast.store.memory import MemoryStore
from marketcast.store.pages import LayeredPages, MemoryPages, PageCache

if TYPE_CHECKING:
    # The lease imports redis (~45 ms of a start): only a shared store's node needs it.
    from marketcast.hub.cluster.lease import LeaderLease

OFFLINE_HINT = (
    "Is the exchange reachable from here? Without network, `make demo` runs the hub "
    "against the built-in simulated exchange"
)


def store_prefix(settings: Settings, market: MarketSpec) -> str:
    """Redis keys of ``market``'s candles: spot's keep the configured prefix (the keys
    every earlier version wrote), USD-M's add ``usdm:`` so the two never meet."""
    return settings.redis_prefix + ("" if market is SPOT else f"{market.name}:")


class MarketNode:
    """One market's part of a node; :meth:`start` it, the node closes it (``on_exit``)."""

    def __init__(
        self,
        settings: Settings,
        market: MarketSpec,
        *,
        simulated: bool,
        on_exit: OnExit,
        owner: TaskOwner,
    ) -> None:
        self.settings = settings
        self.market = market
        self.simulated = simulated
        self._on_exit = on_exit
        self._owner = owner
        self.rest: BinanceRest | None = None
        self.stream: KlineStream | None = None
        self.lease: LeaderLease | None = None
        self.relay: ChangeRelay | None = None
        self.symbols: SymbolService | None = None
        self.indicators: IndicatorCache | None = None
        self.feeds: MarketFeeds | None = None
        self.history: OlderHistory | None = None
        self._hub: Hub | None = None

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError(f"{self.market.name} market not started")
        return self._hub

    @property
    def hints_offline(self) -> bool:
        """Whether this market's outages suggest ``make demo`` (the default market's do)."""
        return not self.simulated and self.market.name == self.settings.market

    @property
    def shared(self) -> bool:
        return self.settings.store == "redis"

    @property
    def streams(self) -> tuple[KlineStream, ...]:
        """Every exchange connection of this market."""
        feeds = self.feeds.streams if self.feeds else ()
        return tuple(s for s in (self.stream, *feeds) if s is not None)

    async def start(self) -> None:
        s = self.settings
        market = self.market
        rest_base, ws_base = market_bases(s, market)
        rest = BinanceRest(
            rest_base,
            market=market,
            weight_limit=s.weight_limit,
            max_concurrency=s.rest_concurrency,
            # One hint is enough: both markets' clients report the same lost network.
            outage_hint=OFFLINE_HINT if self.hints_offline else "",
        )
        self.rest = rest
        self._on_exit(f"{market.name} rest client", rest.aclose)
        self.history = OlderHistory(rest, self._page_cache(), market=market.name)
        if s.role != "api":
            self.stream = KlineStream(
                stream_base(ws_base, market, "kline"), data_timeout=s.data_timeout_s, market=market
            )
            self._on_exit(f"{market.name} exchange stream", self.stream.aclose)
        store = self._store()
        self._on_exit(f"{market.name} store", store.aclose)
        bus = Bus(market=market.name)
        self.indicators = IndicatorCache(store, bus, idle_s=s.on_demand_idle_s)
        hub = self._hub = await Hub(
            symbols=s.symbols_of(market.name),
            topics=s.topics_of(market.name),
            exchange=rest,
            history=rest,
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
            on_replaced=self.indicators.invalidate,
        ).__aenter__()
        self._on_exit(f"{market.name} hub", hub.aclose)
        self._on_exit(f"{market.name} indicator caches", self.indicators.aclose)
        # The catalog is read through the hub each time: the service notices a reload
        # because the hub installs a new mapping.
        self.symbols = SymbolService(lambda: hub.listed, rest.tickers_24h, time.monotonic)
        if self.shared:
            self._start_scale_out(store, bus)
        else:
            LEADER.labels(market.name).set(1)  # alone on its store: it always ingests
        if s.role != "ingest":
            self.feeds = await open_market_feeds(
                s, market=market, rest=rest, symbols=self.symbols, on_exit=self._on_exit
            )

    def _store(self) -> CandleStore:
        s = self.settings
        if not self.shared:
            return MemoryStore(s.buffer_size)
        from marketcast.store.redis import RedisStore

        prefix = store_prefix(s, self.market)
        return RedisStore(s.redis_url, capacity=s.buffer_size, prefix=prefix)

    def _page_cache(self) -> PageCache:
        """Older-history pages: in memory, and with Redis shared by every node."""
        s = self.settings
        near = MemoryPages(s.history_cache_mb * 1024 * 1024)
        if not self.shared:
            return near
        from marketcast.store.pages_redis import RedisPages

        far = RedisPages(s.redis_url, prefix=s.redis_prefix, ttl_s=s.history_cache_ttl_s)
        self._on_exit(f"{self.market.name} history cache", far.aclose)
        return LayeredPages(near, far)

    def _start_scale_out(self, store: CandleStore, bus: Bus) -> None:
        from marketcast.hub.cluster.lease import LeaderLease
        from marketcast.store.redis import RedisStore

        assert isinstance(store, RedisStore)
        s = self.settings
        name = self.market.name
        self.relay = ChangeRelay(store, bus)
        self._owner.start(self.relay.run(), name=f"change-relay-{name}")
        if s.role != "api":
            self.lease = LeaderLease(
                s.redis_url,
                market=name,
                node_id=s.node_id,
                ttl_s=s.lease_ttl_s,
                prefix=s.redis_prefix,
            )
            self._on_exit(f"{name} lease release", self.lease.aclose)
            # Exit runs callbacks last-in first-out: stop ingesting, then hand the lease
            # over, so a successor never overlaps with this node's last writes.
            self._on_exit(f"{name} ingest stop", self.hub.deactivate)
            self._owner.start(
                self.lease.run(self.hub.activate, self.hub.deactivate), name=f"leader-lease-{name}"
            )

    def upstream_health(self) -> dict[str, Any]:
        """This market's exchange side: connections, stream and REST counts, feeds."""
        health: dict[str, Any] = {
            "leader": self.lease.leader if self.lease else None,
            "change_feed": self.relay.connected if self.relay else None,
        }
        stream = self.stream
        if stream is not None and self._hub is not None and self._hub.active:
            connections = stream.connections()
            stats = stream.stats
            # A market with no candle topic (yet) needs no connection: none is not "down".
            if connections or self._hub.topics:
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
