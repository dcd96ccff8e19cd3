"""The order books and trade tapes of each market, and the node's liquidations.

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
from marketcast.exchanges.binance.markets import USDM, MarketSpec, StreamKind
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
class MarketFeeds:
    """One market's order books and trade tapes (``None`` for one ``MARKETCAST_FEEDS``
    leaves out)."""

    books: BookKeeper | None
    trades: TradeTapes | None
    streams: tuple[KlineStream, ...]
    """The feeds' exchange connections (each also closed on its own exit step)."""

    @property
    def running(self) -> tuple[BookKeeper | TradeTapes, ...]:
        return tuple(f for f in (self.books, self.trades) if f is not None)

    async def aclose(self) -> None:
        """Stop the feeds at once: neither depends on the other."""
        await close_together(*(feed.aclose() for feed in self.running))

    def status(self) -> dict[str, Any]:
        return {
            "books": self.books.status() if self.books else "off",
            "trades": self.trades.status() if self.trades else "off",
        }


def market_bases(settings: Settings, market: MarketSpec) -> tuple[str, str]:
    """``(rest_base, ws_base)`` of ``market``."""
    if market is USDM:
        return settings.futures_rest_base, settings.futures_ws_base
    return settings.rest_base, settings.ws_base


def _feed_limits(s: Settings) -> FeedLimits:
    return FeedLimits(max_on_demand=s.max_on_demand_topics, idle_s=s.on_demand_idle_s)


def _stream(
    on_exit: OnExit, market: MarketSpec, base: str, timeout: float, what: str
) -> KlineStream:
    client = KlineStream(base, data_timeout=timeout, market=market)
    on_exit(what, client.aclose)
    return client


async def open_market_feeds(
    settings: Settings,
    *,
    market: MarketSpec,
    rest: BinanceRest,
    symbols: SymbolService,
    on_exit: OnExit,
) -> MarketFeeds:
    """Start ``market``'s books and trades if ``settings.feeds`` names them; ``on_exit``
    registers each close, in opening order."""
    s = settings
    _, ws_base = market_bases(s, market)
    always = s.symbols_of(market.name)
    name = market.name

    streams: list[KlineStream] = []

    def stream(kind: StreamKind, what: str) -> KlineStream:
        base = stream_base(ws_base, market, kind)
        client = _stream(on_exit, market, base, _BOOK_TRADE_DATA_TIMEOUT_S, f"{name} {what}")
        streams.append(client)
        return client

    books = (
        None
        if "books" not in s.feeds
        else BookKeeper(
            rest=rest,
            stream=stream("depth", "book stream"),
            rule=market.book_rule,
            market=name,
            symbols=symbols,
            always=always,
            push_hz=s.book_push_hz,
            snapshot_limit=snapshot_limit(market, s.book_depth),
            limits=_feed_limits(s),
        )
    )
    trades = (
        None
        if "trades" not in s.feeds
        else TradeTapes(
            rest=rest,
            stream=stream("aggTrade", "trade stream"),
            symbols=symbols,
            always=always,
            capacity=s.trade_history,
            market=name,
            limits=_feed_limits(s),
        )
    )
    feeds = MarketFeeds(books, trades, tuple(streams))
    # Registered before starting: a start that fails half-way still stops its tasks
    # (closing a feed that never started is a no-op).
    on_exit(f"{name} feeds", feeds.aclose)
    for feed in feeds.running:
        await feed.__aenter__()
    return feeds


async def open_liquidations(
    settings: Settings, *, futures_rest: BinanceRest, on_exit: OnExit
) -> tuple[LiquidationKeeper, KlineStream]:
    """The node's liquidations (USD-M), started; and their stream."""
    s = settings
    stream = _stream(
        on_exit,
        USDM,
        stream_base(s.futures_ws_base, USDM, "forceOrder"),
        _LIQUIDATION_DATA_TIMEOUT_S,
        "liquidation stream",
    )
    keeper = _liquidations(s, stream, futures_rest=futures_rest, on_exit=on_exit)
    on_exit("liquidations", keeper.aclose)
    await keeper.__aenter__()
    return keeper, stream


def _liquidations(
    s: Settings, stream: KlineStream, *, futures_rest: BinanceRest, on_exit: OnExit
) -> LiquidationKeeper:
    history = None
    if s.liquidation_api_base_url:
        history = LiquidationHistoryClient(s.liquidation_api_base_url)
        on_exit("liquidation history client", history.aclose)
    store = _liquidation_store(s)
    on_exit("liquidation store", store.aclose)
    # Followed from start: the USD-M symbols, and the default market's where that is spot
    # (a spot chart shows its perpetual's liquidations).
    always = tuple(dict.fromkeys((*s.symbols_of("usdm"), *s.symbols)))
    return LiquidationKeeper(
        catalog=futures_rest,
        stream=stream,
        store=store,
        history=history,
        always=always,
        limits=_feed_limits(s),
    )


def _liquidation_store(settings: Settings) -> LiquidationStore:
    if settings.store != "redis":
        return MemoryLiquidationStore(settings.liquidation_history)
    from marketcast.store.liquidations_redis import RedisLiquidationStore

    return RedisLiquidationStore(
        settings.redis_url, capacity=settings.liquidation_history, prefix=settings.redis_prefix
    )
