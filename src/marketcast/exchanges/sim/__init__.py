"""A simulated Binance, spot and USD-M futures: the same wire protocol, a seeded ground truth.

One server serves both markets, each from its own tape: a perpetual's is its spot tape's
twin at a small basis (the same moves and trade counts, prices 4 bp above), so data of one
market served as the other's shows:

* spot: REST ``/api/v3/...``; streams ``/ws``, ``/ws/<streams>``, ``/stream?streams=``
  (kline, trade, aggTrade, depth);
* USD-M futures: REST ``/fapi/v1/...`` (futures weights, 2400 a minute); streams on the
  routed paths ``/market/...`` (kline every 250 ms, aggTrade, forceOrder) and
  ``/public/...`` (depth with ``pu``, ``@depth`` = 250 ms); a stream on the wrong route
  is accepted and never delivers;
* ``/liquidation-history/{symbol}``: the stand-in for OrderFox's external liquidation API.

So a node's futures REST and WS bases are ``sim.rest_base`` and ``sim.ws_base`` too.

Public API::

    SimExchange, serve_sim        run it (in-process, or until cancelled)
    SimConfig, FaultSchedule      configure it (``futures_symbols``: which have perpetuals)
    GroundTruth, Downtime         what REST and streams serve, for tests to compare
                                  (``sim.truth.liquidations(symbol, start, end)``)
    BookState                     one true order book (``sim.truth.book``, ``sim.book_at``)
    SimLiquidation                one true forced order
    VirtualClock                  the scaled clock it runs on
    DEFAULT_SYMBOLS, LISTED_SYMBOLS

It never runs unless asked for: nothing in marketcast falls back to it.
"""

from marketcast.exchanges.sim.clock import VirtualClock
from marketcast.exchanges.sim.config import SimConfig
from marketcast.exchanges.sim.faults.schedule import (
    FaultAction,
    FaultSchedule,
    InvalidFaultSchedule,
)
from marketcast.exchanges.sim.injection import Faults
from marketcast.exchanges.sim.runtime import SimStats
from marketcast.exchanges.sim.server import SimExchange, serve_sim
from marketcast.exchanges.sim.truth.book import BookState
from marketcast.exchanges.sim.truth.ground_truth import Downtime, GroundTruth, Kline
from marketcast.exchanges.sim.truth.liquidations import SimLiquidation
from marketcast.exchanges.sim.truth.symbols import DEFAULT_SYMBOLS, LISTED_SYMBOLS
from marketcast.exchanges.sim.truth.tape import Tape

__all__ = [
    "DEFAULT_SYMBOLS",
    "LISTED_SYMBOLS",
    "BookState",
    "Downtime",
    "FaultAction",
    "FaultSchedule",
    "Faults",
    "GroundTruth",
    "InvalidFaultSchedule",
    "Kline",
    "SimConfig",
    "SimExchange",
    "SimLiquidation",
    "SimStats",
    "Tape",
    "VirtualClock",
    "serve_sim",
]
