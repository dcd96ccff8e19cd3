"""The order books, trade tapes and liquidations one node serves, built from :class:`Settings`.

Each feed reads its own stream client, because a stream client has a single consumer and
because the feeds live on different routes: on USD-M futures the book's diffs come from
``/public`` while trades and liquidations come from ``/market`` (a stream on the wrong
route is accepted by Binance and then never delivers). Liquidations always come from USD-M
futures, whatever the primary market is.

These feeds hold no shared history except liquidations, whose store is the node's store
kind: with Redis every node may write the same liquidation (the store keeps it once), so
no leader is needed and every serving node keeps its own books and tapes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from marketcast.config import Settings
from marketcast.exchanges.binance.markets import USDM, MarketSpec
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.routing import stream_base
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.exchanges.binance.weights import snapshot_limit
from marketcast.exchanges.liquidation_api import LiquidationHistoryClient
from marketcast.hub.books.keeper import BookKeeper
from marketcast.hub.liquidations.keeper import LiquidationKeeper
from marketcast.hub.symbol_feeds.running import FeedLimits
from marketcast.hub.symbols.service import SymbolService
from marketcast.hub.trades.tapes import TradeTapes
from marketcast.resources import close_together
from marketcast.store.liquidations import LiquidationStore, MemoryLiquidationStore

# Books and tapes of a quiet symbol can be silent for a while without being broken; a
# watchdog firing on silence would only cost a needless resync.
_BOOK_TRADE_DATA_TIMEOUT_S = 60.0
# Liquidations are rare (minutes apart on most symbols): silence is normal. A dead socket
# is still found by the client's own pings.
_LIQUIDATION_DATA_TIMEOUT_S = 24 * 3600.0

OnExit = Callable[[str, Callable[[], Awaitable[None]]], None]


@dataclass(frozen=True, slots=True)
class Feeds:
    """The feeds a node runs (``MARKETCAST_FEEDS``); ``None`` for one it does not."""

    books: BookKeeper | None
    trades: TradeTapes | None
    liquidations: LiquidationKeeper | None
    streams: tuple[KlineStream, ...]
    """The feeds' exchange connections (each also closed on its own exit step)."""

    @property
    def running(self) -> tuple[BookKeeper | TradeTapes | LiquidationKeeper, ...]:
        return tuple(f for f in (self.books, self.trades, self.liquidations) if f is not None)

    async def aclose(self) -> None:
        """Stop the feeds at once: none depends on another."""
        await close_together(*(feed.aclose() for feed in self.running))

    def status(self) -> dict[str, Any]:
        return {
            "books": self.books.status() if self.books else "off",
            "trades": self.trades.status() if self.trades else "off",
            "liquidations": self.liquidations.status() if self.liquidations else "off",
        }


def primary_bases(settings: Settings, market: MarketSpec) -> tuple[str, str]:
    """``(rest_base, ws_base)`` of the primary market."""
    if market is USDM:
        return settings.futures_rest_base, settings.futures_ws_base
    return settings.rest_base, settings.ws_base


async def open_feeds(
    settings: Settings,
    *,
    market: MarketSpec,
    rest: BinanceRest,
    futures_rest: BinanceRest,
    symbols: SymbolService,
    on_exit: OnExit,
) -> Feeds:
    """Start the feeds ``settings.feeds`` names; ``on_exit`` registers each close, in
    opening order."""
    s = settings
    _, ws_base = primary_bases(s, market)
    limits = FeedLimits(max_on_demand=s.max_on_demand_topics, idle_s=s.on_demand_idle_s)
    always = s.symbols

    streams: list[KlineStream] = []

    def stream(on: MarketSpec, base: str, data_timeout: float, what: str) -> KlineStream:
        client = KlineStream(base, data_timeout=data_timeout, market=on)
        on_exit(what, client.aclose)
        streams.append(client)
        return client

    books = (
        None
        if "books" not in s.feeds
        else BookKeeper(
            rest=rest,
            stream=stream(
                market,
                stream_base(ws_base, market, "depth"),
                _BOOK_TRADE_DATA_TIMEOUT_S,
                "book stream",
            ),
            rule=market.book_rule,
            market=market.name,
            symbols=symbols,
            always=always,
            push_hz=s.book_push_hz,
            snapshot_limit=snapshot_limit(market, s.book_depth),
            limits=limits,
        )
    )
    trades = (
        None
        if "trades" not in s.feeds
        else TradeTapes(
            rest=rest,
            stream=stream(
                market,
                stream_base(ws_base, market, "aggTrade"),
                _BOOK_TRADE_DATA_TIMEOUT_S,
                "trade stream",
            ),
            symbols=symbols,
            always=always,
            capacity=s.trade_history,
            market=market.name,
            limits=limits,
        )
    )
    liquidations = None
    if "liquidations" in s.feeds:
        liquidations = _liquidations(
            s, stream, always=always, limits=limits, futures_rest=futures_rest, on_exit=on_exit
        )
    feeds = Feeds(books, trades, liquidations, tuple(streams))
    # Registered before starting: a start that fails half-way still stops its tasks
    # (closing a feed that never started is a no-op).
    on_exit("feeds", feeds.aclose)
    for feed in feeds.running:
        await feed.__aenter__()
    return feeds


def _liquidations(
    s: Settings,
    stream: Callable[[MarketSpec, str, float, str], KlineStream],
    *,
    always: tuple[str, ...],
    limits: FeedLimits,
    futures_rest: BinanceRest,
    on_exit: OnExit,
) -> LiquidationKeeper:
    history = None
    if s.liquidation_api_base_url:
        history = LiquidationHistoryClient(s.liquidation_api_base_url)
        on_exit("liquidation history client", history.aclose)
    store = _liquidation_store(s)
    on_exit("liquidation store", store.aclose)
    return LiquidationKeeper(
        catalog=futures_rest,
        stream=stream(
            USDM,
            stream_base(s.futures_ws_base, USDM, "forceOrder"),
            _LIQUIDATION_DATA_TIMEOUT_S,
            "liquidation stream",
        ),
        store=store,
        history=history,
        always=always,
        limits=limits,
    )


def _liquidation_store(settings: Settings) -> LiquidationStore:
    if settings.store != "redis":
        return MemoryLiquidationStore(settings.liquidation_history)
    from marketcast.store.liquidations_redis import RedisLiquidationStore

    return RedisLiquidationStore(
        settings.redis_url, capacity=settings.liquidation_history, prefix=settings.redis_prefix
    )
