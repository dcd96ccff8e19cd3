"""What the Binance adapter hands to the rest of marketcast.

Everything here is already in marketcast's own words (:class:`Topic`, :class:`Candle`):
the wire names (``k``, ``x``, ``t``...) are translated in :mod:`.parse` and stop there.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketcast.domain.candles import Candle
from marketcast.domain.liquidations import Liquidation
from marketcast.domain.topics import Topic
from marketcast.exchanges.binance.depth import DepthEvent
from marketcast.exchanges.binance.trades import TradeEvent


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One listing from exchange info; sizes stay strings so no precision is lost."""

    symbol: str
    base_asset: str
    quote_asset: str
    status: str
    tick_size: str
    step_size: str


@dataclass(frozen=True, slots=True)
class KlineUpdate:
    """A pushed version of one candle; ``event_time`` is the exchange's push time (ms)."""

    topic: Topic
    candle: Candle
    event_time: int


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """One pushed ``<symbol>@forceOrder`` liquidation (USD-M futures only).

    ``symbol`` is upper-case as Binance sends it; ``event_time`` is the push time (ms),
    the liquidation's own time is ``liquidation.time_ms``.
    """

    symbol: str
    liquidation: Liquidation
    event_time: int


@dataclass(frozen=True, slots=True)
class ServerShutdown:
    """The exchange announced that it will close this connection soon."""

    event_time: int | None


@dataclass(frozen=True, slots=True)
class ControlReply:
    """Answer to a SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS request, matched by ``request_id``."""

    request_id: int | str | None
    result: object = None
    error_code: int | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None and self.error_message is None


MarketData = KlineUpdate | DepthEvent | TradeEvent | LiquidationEvent
StreamMessage = MarketData | ServerShutdown | ControlReply


@dataclass(frozen=True, slots=True)
class Reconnected:
    """A replacement connection is live for ``topics``.

    Sent on every re-connect and proactive replacement, never for a connection's very
    first connect: anything pushed while the old connection was gone may be missing, so
    each topic must be filled from its last stored candle before its next publish.
    """

    topics: frozenset[Topic]


@dataclass(frozen=True, slots=True)
class Disconnected:
    """``topics`` have no live connection until a :class:`Reconnected` names them again."""

    topics: frozenset[Topic]
    reason: str


@dataclass(frozen=True, slots=True)
class StreamsReconnected:
    """A replacement connection is live for the raw market ``streams`` (``btcusdt@depth``...).

    The raw-stream counterpart of :class:`Reconnected`, with the same timing: it precedes
    the first event of those streams on the new connection. Updates may be missing or
    repeated around it, so an order book must resync from a fresh snapshot and a trade
    tape must check its ids.
    """

    streams: frozenset[str]


StreamEvent = MarketData | Reconnected | StreamsReconnected | Disconnected
