"""The state one running simulator shares between its REST routes, sockets and faults."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from marketcast.exchanges.sim.clock import VirtualClock
from marketcast.exchanges.sim.config import SimConfig
from marketcast.exchanges.sim.faults.connection import ConnectionFaults
from marketcast.exchanges.sim.truth.book import BookModel
from marketcast.exchanges.sim.truth.ground_truth import Downtime, GroundTruth, book_models
from marketcast.exchanges.sim.truth.liquidations import LiquidationModel
from marketcast.exchanges.sim.truth.tape import Tape
from marketcast.exchanges.sim.wire.futures import FuturesFormatter
from marketcast.exchanges.sim.wire.market import MarketFormatter
from marketcast.exchanges.sim.wire.spot import KlineFormatter, precise_text
from marketcast.exchanges.sim.wire.streams import Market
from marketcast.exchanges.sim.wire.weights import WeightLimiter

BASIS: Final = 0.0004
"""How far a perpetual's prices sit above spot's (4 bp): the two tapes move together,
and every price differs, so a market mixed up anywhere shows."""


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """How to end a connection: a close frame with ``code``, or abruptly when ``None``."""

    code: int | None
    reason: str = ""


class LiveConnection(Protocol):
    """What faults need from an open WebSocket connection."""

    faults: ConnectionFaults
    market: Market

    def request_close(self, request: CloseRequest) -> None: ...

    def announce_shutdown(self, grace_s: float) -> None: ...


class SimStats:
    """Counters tests read to see what clients asked for and what was sent.

    Attributes:
        rest_requests: requests per path (refused ones included).
        klines_requests: ``/api/v3/klines`` and ``/fapi/v1/klines`` requests per (path,
            symbol, interval).
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
    """REST failures armed for the next requests (of one market, or of either), and
    added latency."""

    def __init__(self) -> None:
        self.latency_s = 0.0
        self._errors: deque[tuple[int, float | None, Market | None]] = deque()

    def arm(
        self, status: int, count: int, retry_after_s: float | None, market: Market | None = None
    ) -> None:
        self._errors.extend([(status, retry_after_s, market)] * count)

    def clear(self) -> None:
        self._errors.clear()

    def take(self, market: Market) -> tuple[int, float | None] | None:
        """The first armed failure for a request of ``market``, consumed."""
        for armed in self._errors:
            status, retry_after_s, scope = armed
            if scope in (None, market):
                self._errors.remove(armed)
                return status, retry_after_s
        return None


@dataclass(frozen=True, slots=True)
class Venue:
    """One market the simulator serves: spot or USD-M futures, each over its own tape.

    Attributes:
        market: ``"spot"`` or ``"usdm"``.
        listed: its symbols.
        tape: its trades (USD-M's is spot's twin at a small basis, see :data:`BASIS`).
        books: its order books by symbol.
        limiter: its REST weight budget (Binance counts the two markets apart).
        klines: kline payload builders by symbol.
        formatters: trade and book payload builders by symbol.
        push_interval_s: real seconds between kline pushes.
        max_incoming_per_second: client messages per second before disconnect.
    """

    market: Market
    listed: frozenset[str]
    tape: Tape
    books: Mapping[str, BookModel]
    limiter: WeightLimiter
    klines: Mapping[str, KlineFormatter]
    formatters: Mapping[str, MarketFormatter]
    push_interval_s: float
    max_incoming_per_second: int


class SimRuntime:
    """Everything shared by one simulator's routes and connections."""

    def __init__(
        self, config: SimConfig, clock: VirtualClock, wall_time: Callable[[], float]
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_time = wall_time
        self.tape = Tape(config.seed, config.symbols, clock.now_ms(), trends=config.trends)
        self.books = book_models(self.tape)
        futures = _futures_symbols(config)
        self.futures_tape = Tape(
            config.seed, futures, clock.now_ms(), trends=config.trends, basis=BASIS
        )
        self.liquidations = LiquidationModel(self.futures_tape)
        self.spot = self._spot_venue()
        spec = self.futures_tape.spec
        self.futures_formatters = {s: FuturesFormatter(spec(s)) for s in futures}
        self.usdm = Venue(
            market="usdm",
            listed=frozenset(futures),
            tape=self.futures_tape,
            books=book_models(self.futures_tape),
            limiter=WeightLimiter(config.futures_weight_limit_per_minute),
            klines={s: KlineFormatter(spec(s), precise_text) for s in futures},
            formatters=self.futures_formatters,
            push_interval_s=config.futures_push_interval_s,
            max_incoming_per_second=config.futures_max_incoming_per_second,
        )
        self.stats = SimStats()
        self.rest_faults = RestFaults()
        self.downtimes = [Downtime(start, end) for start, end in config.past_downtimes]
        self.connections: set[LiveConnection] = set()

    @property
    def listed(self) -> frozenset[str]:
        """Spot symbols (every symbol of the tape)."""
        return self.spot.listed

    def venue(self, market: Market) -> Venue:
        return self.spot if market == "spot" else self.usdm

    def truth(self, market: Market = "spot") -> GroundTruth:
        """``market``'s ground truth under the downtimes injected so far."""
        venue = self.venue(market)
        downtimes = tuple(self.downtimes)
        return GroundTruth(venue.tape, downtimes, venue.books, self.liquidations)

    def _spot_venue(self) -> Venue:
        symbols = self.tape.symbols
        return Venue(
            market="spot",
            listed=frozenset(symbols),
            tape=self.tape,
            books=self.books,
            limiter=WeightLimiter(self.config.weight_limit_per_minute),
            klines={s: KlineFormatter(self.tape.spec(s)) for s in symbols},
            formatters={s: MarketFormatter(self.tape.spec(s)) for s in symbols},
            push_interval_s=self.config.push_interval_s,
            max_incoming_per_second=self.config.max_incoming_per_second,
        )

    def down_now(self) -> bool:
        """Whether the exchange is inside a downtime window at the virtual now."""
        now = self.clock.now_ms()
        return any(d.contains(now) for d in self.downtimes)


def _futures_symbols(config: SimConfig) -> tuple[str, ...]:
    if config.futures_symbols is None:
        return config.symbols
    unknown = set(config.futures_symbols) - set(config.symbols)
    if unknown:
        raise ValueError(f"futures_symbols must be listed symbols too: {sorted(unknown)}")
    return config.futures_symbols
