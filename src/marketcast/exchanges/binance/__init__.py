"""Binance spot adapter: REST history and the combined kline stream.

The only place in marketcast that knows Binance's wire format. Modules:

- :mod:`.parse` turns payloads into candles, kline updates and symbol info (pure);
- :mod:`.limits`, :mod:`.paging`, :mod:`.partition` hold the timing, paging and
  stream-assignment rules (pure);
- :mod:`.client` and :mod:`.rest` are the REST shell, :mod:`.link` and :mod:`.stream`
  the WebSocket shell.
"""

from marketcast.exchanges.binance.client import RequestRejected, RestStats
from marketcast.exchanges.binance.limits import Backoff, MessagePacer, WeightBudget
from marketcast.exchanges.binance.messages import (
    ControlReply,
    Disconnected,
    KlineUpdate,
    Reconnected,
    ServerShutdown,
    StreamEvent,
    StreamMessage,
    SymbolInfo,
)
from marketcast.exchanges.binance.parse import (
    parse_exchange_info,
    parse_rest_kline,
    parse_ws_message,
    stream_name,
    topic_from_stream,
)
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.stream import ConnectionStatus, KlineStream, StreamStats

__all__ = [
    "Backoff",
    "BinanceRest",
    "ConnectionStatus",
    "ControlReply",
    "Disconnected",
    "KlineStream",
    "KlineUpdate",
    "MessagePacer",
    "Reconnected",
    "RequestRejected",
    "RestStats",
    "ServerShutdown",
    "StreamEvent",
    "StreamMessage",
    "StreamStats",
    "SymbolInfo",
    "WeightBudget",
    "parse_exchange_info",
    "parse_rest_kline",
    "parse_ws_message",
    "stream_name",
    "topic_from_stream",
]
