"""The state one running simulator shares between its REST routes, sockets and faults."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from marketcast.exchanges.sim.clock import VirtualClock
from marketcast.exchanges.sim.config import SimConfig
from marketcast.exchanges.sim.connfaults import ConnectionFaults
from marketcast.exchanges.sim.marketwire import MarketFormatter
from marketcast.exchanges.sim.ratelimit import WeightLimiter
from marketcast.exchanges.sim.tape import Tape
from marketcast.exchanges.sim.truth import Downtime, GroundTruth, book_models
from marketcast.exchanges.sim.wire import KlineFormatter


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """How to end a connection: a close frame with ``code``, or abruptly when ``None``."""

    code: int | None
    reason: str = ""


class LiveConnection(Protocol):
    """What faults need from an open WebSocket connection."""

    faults: ConnectionFaults

    def request_close(self, request: CloseRequest) -> None: ...

    def announce_shutdown(self, grace_s: float) -> None: ...


class SimStats:
    """Counters tests read to see what clients asked for and what was sent.

    Attributes:
        rest_requests: requests per path (refused ones included).
        klines_requests: ``/api/v3/klines`` requests per (path, symbol, interval).
        ws_open: WebSocket connections open now.
        ws_opened_total: connections accepted since start.
        ws_messages_sent: frames sent on all connections (replies, data and garbage).
    """

    def __init__(self) -> None:
        self.rest_requests: Counter[str] = Counter()
        self.klines_requests: Counter[tuple[str, str, str]] = Counter()
        self.ws_open = 0
        self.ws_opened_total = 0
        self.ws_messages_sent = 0


class RestFaults:
    """REST failures armed for the next requests, and added latency."""

    def __init__(self) -> None:
        self.latency_s = 0.0
        self._errors: deque[tuple[int, float | None]] = deque()

    def arm(self, status: int, count: int, retry_after_s: float | None) -> None:
        self._errors.extend([(status, retry_after_s)] * count)

    def take(self) -> tuple[int, float | None] | None:
        return self._errors.popleft() if self._errors else None


class SimRuntime:
    """Everything shared by one simulator's routes and connections."""

    def __init__(
        self, config: SimConfig, clock: VirtualClock, wall_time: Callable[[], float]
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_time = wall_time
        self.tape = Tape(config.seed, config.symbols, clock.now_ms(), trends=config.trends)
        self.formatters = {s: KlineFormatter(self.tape.spec(s)) for s in self.tape.symbols}
        self.market_formatters = {s: MarketFormatter(self.tape.spec(s)) for s in self.tape.symbols}
        self.books = book_models(self.tape)
        self.listed = frozenset(self.tape.symbols)
        self.stats = SimStats()
        self.limiter = WeightLimiter(config.weight_limit_per_minute)
        self.rest_faults = RestFaults()
        self.downtimes: list[Downtime] = []
        self.connections: set[LiveConnection] = set()

    def truth(self) -> GroundTruth:
        """Ground truth under the downtimes injected so far."""
        return GroundTruth(self.tape, tuple(self.downtimes), self.books)

    def down_now(self) -> bool:
        """Whether the exchange is inside a downtime window at the virtual now."""
        now = self.clock.now_ms()
        return any(d.contains(now) for d in self.downtimes)
