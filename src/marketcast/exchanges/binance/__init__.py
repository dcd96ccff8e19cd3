"""Binance adapter, spot and USD-M futures: REST history and the combined stream client.

The only place in marketcast that knows Binance's wire format. Modules:

- :mod:`.parse` turns frames and klines into marketcast values, helped by
  :mod:`.depth`, :mod:`.trades`, :mod:`.force_orders` and :mod:`.exchange_info` (pure);
- :mod:`.markets`, :mod:`.routing` and :mod:`.weights` say what differs between the
  markets: paths, stream routes, intervals, request weights (pure);
- :mod:`.limits`, :mod:`.paging`, :mod:`.partition` hold the timing, paging and
  stream-assignment rules (pure);
- :mod:`.client` and :mod:`.rest` are the REST shell, :mod:`.link` and :mod:`.stream`
  the WebSocket shell.
"""

from marketcast.exchanges.binance.client import RequestRejected, RestStats
from marketcast.exchanges.binance.exchange_info import (
    parse_exchange_info,
    parse_futures_exchange_info,
)
from marketcast.exchanges.binance.limits import Backoff, MessagePacer, WeightBudget
from marketcast.exchanges.binance.markets import MARKETS, SPOT, USDM, MarketSpec
from marketcast.exchanges.binance.messages import (
    ControlReply,
    Disconnected,
    KlineUpdate,
    LiquidationEvent,
    Reconnected,
    ServerShutdown,
    StreamEvent,
    StreamMessage,
    StreamsReconnected,
    SymbolInfo,
)
from marketcast.exchanges.binance.parse import (
    parse_rest_kline,
    parse_ws_message,
    stream_name,
    topic_from_stream,
)
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.routing import stream_base
from marketcast.exchanges.binance.stream import ConnectionStatus, KlineStream, StreamStats

__all__ = [
    "MARKETS",
    "SPOT",
    "USDM",
    "Backoff",
    "BinanceRest",
    "ConnectionStatus",
    "ControlReply",
    "Disconnected",
    "KlineStream",
    "KlineUpdate",
    "LiquidationEvent",
    "MarketSpec",
    "MessagePacer",
    "Reconnected",
    "RequestRejected",
    "RestStats",
    "ServerShutdown",
    "StreamEvent",
    "StreamMessage",
    "StreamStats",
    "StreamsReconnected",
    "SymbolInfo",
    "WeightBudget",
    "parse_exchange_info",
    "parse_futures_exchange_info",
    "parse_rest_kline",
    "parse_ws_message",
    "stream_base",
    "stream_name",
    "topic_from_stream",
]
