"""What request handlers reach through ``app.state``: built once by the lifespan."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.requests import HTTPConnection

from marketcast.api.transport.admission import Admission
from marketcast.api.transport.metrics import node_registry
from marketcast.api.transport.replay import Replays
from marketcast.api.transport.sockets import Sockets
from marketcast.config import Settings
from marketcast.domain.symbols import unified_symbol
from marketcast.errors import InvalidMarket
from marketcast.hub.candles.bodies import EncodedBodies
from marketcast.hub.candles.hub import Hub
from marketcast.hub.history.older import OlderHistory
from marketcast.hub.indicators.cache import IndicatorCache
from marketcast.hub.symbol_feeds.protocols import BookFeed, LiquidationFeed, TradeFeed
from marketcast.hub.symbols.service import SymbolService


@dataclass(slots=True)
class AppState:
    """What a request reads, as seen from one market (``market``): the default market's
    state is the app's; :meth:`on` gives another market's (same sockets, admission and
    settings; that market's hub, symbols, books, trades and bodies)."""

    settings: Settings
    hub: Hub
    # Upstream connection health for /health, provided by whoever owns the stream.
    upstream: Callable[[], dict[str, Any]] = field(default=dict)
    # The OrderFox symbol service (exchange info + 24 h tickers), when the node has one.
    symbols: SymbolService | None = None
    # Indicator and signal caches, following the hub's bus.
    indicators: IndicatorCache | None = None
    # Order books, trade tapes and liquidations, when the node runs them.
    books: BookFeed | None = None
    trades: TradeFeed | None = None
    liquidations: LiquidationFeed | None = None
    # Candles older than the buffer, from the exchange (a node without REST has none).
    history: OlderHistory | None = None
    # Open WebSocket connections and handshake rates (the node's admission limits).
    admission: Admission | None = None
    # /candles bodies and /ws candle snapshots (text, last open time), valid while their
    # topic's store revision holds.
    candle_bodies: EncodedBodies[bytes] = field(default_factory=EncodedBodies)
    snapshot_texts: EncodedBodies[tuple[str, int | None]] = field(default_factory=EncodedBodies)
    # Requests answered from those bodies ahead of the ASGI stack (shared by all markets).
    replays: Replays = field(default_factory=Replays)
    # Virtual seconds per real second of the simulated exchange, when the node started
    # it and so knows (the demo); shown in /health for the page's "simulated clock xN".
    sim_speed: float | None = None
    # The market this state reads, and every market's state by name (shared by all).
    market: str = ""
    markets: dict[str, AppState] = field(default_factory=dict)
    # Another market's state takes this one's sockets and metrics (see add_market).
    share: InitVar[AppState | None] = None
    # How WebSockets are accepted and read, the same on every contract's routes.
    sockets: Sockets = field(init=False)
    # What /metrics adds to the process's metrics for this node (its sockets' queues).
    metrics: CollectorRegistry = field(init=False)

    def __post_init__(self, share: AppState | None) -> None:
        if share is None:
            self.sockets = Sockets(self.settings)
            self.metrics = node_registry(self.sockets)
        else:
            self.sockets, self.metrics = share.sockets, share.metrics
        self.market = self.market or self.settings.market
        self.markets.setdefault(self.market, self)

    def add_market(self, market: str, **parts: Any) -> AppState:
        """Another market's state: its ``hub``, ``symbols``, ``indicators``, ``books``,
        ``trades``; everything else shared with this one."""
        return dataclasses.replace(
            self,
            share=self,
            market=market,
            candle_bodies=EncodedBodies(),
            snapshot_texts=EncodedBodies(),
            **parts,
        )

    def on(self, market: str | None) -> AppState:
        """The state of ``market`` (``spot`` | ``usdm``; ``None`` or empty: the default).

        Raises:
            InvalidMarket: no such market.
        """
        market = (market or "").strip().lower()
        if not market:
            return self.markets[self.settings.market]
        found = self.markets.get(market)
        if found is None:
            raise InvalidMarket(market, tuple(self.markets))
        return found


def market_state(state: AppState, symbol: str, market: str | None) -> tuple[AppState, str]:
    """The state of the market a request names, and its symbol without the market.

    ``market`` is the request's ``market`` (``spot`` | ``usdm``, ``None`` or empty: not
    given); a ccxt unified symbol names its market too (``BTC/USDT:USDT``: USD-M), and
    must agree with ``market`` when both are given. Neither: the default market.

    Raises:
        InvalidMarket: an unknown market, or a symbol of another market than ``market``.
    """
    try:
        pair, named = unified_symbol(symbol)
    except ValueError as error:
        raise InvalidMarket(symbol, tuple(state.markets), str(error)) from None
    chosen = (market or "").strip().lower()
    if chosen and named and chosen != named:
        detail = f"{symbol!r} is a {named} symbol, but market={chosen}"
        raise InvalidMarket(chosen, tuple(state.markets), detail)
    return state.on(chosen or named), pair


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.marketcast
    return state
