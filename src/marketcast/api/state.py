"""What request handlers reach through ``app.state``: built once by the lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.requests import HTTPConnection

from marketcast.api.transport.admission import Admission
from marketcast.api.transport.metrics import node_registry
from marketcast.api.transport.sockets import Sockets
from marketcast.config import Settings
from marketcast.hub.candles.bodies import EncodedBodies
from marketcast.hub.candles.hub import Hub
from marketcast.hub.indicators.cache import IndicatorCache
from marketcast.hub.symbol_feeds.protocols import BookFeed, LiquidationFeed, TradeFeed
from marketcast.hub.symbols.service import SymbolService


@dataclass(slots=True)
class AppState:
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
    # Open WebSocket connections and handshake rates (the node's admission limits).
    admission: Admission | None = None
    # /candles bodies, valid while their topic's store revision holds.
    candle_bodies: EncodedBodies = field(default_factory=EncodedBodies)
    # How WebSockets are accepted and read, the same on every contract's routes.
    sockets: Sockets = field(init=False)
    # What /metrics adds to the process's metrics for this node (its sockets' queues).
    metrics: CollectorRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.sockets = Sockets(self.settings)
        self.metrics = node_registry(self.sockets)


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.marketcast
    return state
