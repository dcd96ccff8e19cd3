"""A simulated Binance spot exchange: the same wire protocol, a seeded ground truth.

Public API::

    SimExchange, serve_sim        run it (in-process, or until cancelled)
    SimConfig, FaultSchedule      configure it
    GroundTruth, Downtime         what REST and streams serve, for tests to compare
    BookState                     one true order book (``sim.truth.book``, ``sim.book_at``)
    VirtualClock                  the scaled clock it runs on
    DEFAULT_SYMBOLS, LISTED_SYMBOLS

It never runs unless asked for: nothing in marketcast falls back to it.
"""

from marketcast.exchanges.sim.book import BookState
from marketcast.exchanges.sim.clock import VirtualClock
from marketcast.exchanges.sim.config import SimConfig
from marketcast.exchanges.sim.faults import Faults
from marketcast.exchanges.sim.runtime import SimStats
from marketcast.exchanges.sim.schedule import FaultAction, FaultSchedule, InvalidFaultSchedule
from marketcast.exchanges.sim.server import SimExchange, serve_sim
from marketcast.exchanges.sim.symbols import DEFAULT_SYMBOLS, LISTED_SYMBOLS
from marketcast.exchanges.sim.tape import Tape
from marketcast.exchanges.sim.truth import Downtime, GroundTruth, Kline

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
    "SimStats",
    "Tape",
    "VirtualClock",
    "serve_sim",
]
