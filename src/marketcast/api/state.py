"""What request handlers reach through ``app.state``: built once by the lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from marketcast.api.batching import BatchWindow
from marketcast.api.candle_bodies import EncodedBodies
from marketcast.config import Settings
from marketcast.hub.feed_ports import BookFeed, LiquidationFeed, TradeFeed
from marketcast.hub.hub import Hub
from marketcast.hub.symbols import SymbolService


@dataclass(slots=True)
class AppState:
    settings: Settings
    hub: Hub
    # Upstream connection health for /health, provided by whoever owns the stream.
    upstream: Callable[[], dict[str, Any]] = field(default=dict)
    # The OrderFox symbol service (exchange info + 24 h tickers), when the node has one.
    symbols: SymbolService | None = None
    # Order books, trade tapes and liquidations (issue 4), when the node runs them.
    books: BookFeed | None = None
    trades: TradeFeed | None = None
    liquidations: LiquidationFeed | None = None
    # /candles bodies, valid while their topic's store revision holds.
    candle_bodies: EncodedBodies = field(default_factory=EncodedBodies)
    # One per ?batch_ms= value in use (at most 1001): a shared timer per window length.
    batch_windows: dict[int, BatchWindow] = field(default_factory=dict)


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.marketcast
    return state
