"""The node's Prometheus metrics: what each layer counts, in one place.

Every layer records here (the exchange adapter its connections and REST weight, the hub
its fills and resyncs, the store its operation times, the transport its clients), and
``GET /metrics`` renders :data:`REGISTRY` with the process's own metrics beside it.

The metrics belong to the process, as Prometheus expects of a scrape target: one node
per process in production. Tests that run several nodes in one process see their sums,
so they compare before and after rather than absolute values.

Labels are bounded by construction: ``market`` (``spot``/``usdm``), a stream or feed kind,
a route template (``/ws/candles/{symbol}``, never the path a client sent), a store
operation name. Nothing is labelled per client, symbol or topic.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

# ``*_created`` series would double the scrape for a timestamp nobody alerts on.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY: Final = CollectorRegistry()
for _collector in (ProcessCollector, PlatformCollector, GCCollector):
    _collector(registry=REGISTRY)

# Fast paths are tens of microseconds, a client's view of freshness up to seconds.
_INGEST_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                          0.05, 0.1, 0.25, 0.5, 1.0, 2.5)  # fmt: skip
_CLIENT_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STORE_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                         0.1, 0.25, 0.5, 1.0)  # fmt: skip

# --- exchange adapter --------------------------------------------------------------------
UPSTREAM_CONNECTIONS: Final = Gauge(
    "marketcast_upstream_connections",
    "Open WebSocket connections to the exchange.",
    ["market"],
    registry=REGISTRY,
)
UPSTREAM_CONNECTS: Final = Counter(
    "marketcast_upstream_connects",
    "WebSocket connections to the exchange opened, first ones included.",
    ["market"],
    registry=REGISTRY,
)
UPSTREAM_RECONNECTS: Final = Counter(
    "marketcast_upstream_reconnects",
    "Exchange WebSocket connections re-established after a loss.",
    ["market"],
    registry=REGISTRY,
)
UPSTREAM_MESSAGES: Final = Counter(
    "marketcast_upstream_messages",
    "Market-data messages received from the exchange, by stream kind.",
    ["market", "stream"],
    registry=REGISTRY,
)
REST_REQUESTS: Final = Counter(
    "marketcast_rest_requests",
    "REST requests sent to the exchange (every attempt).",
    ["market"],
    registry=REGISTRY,
)
REST_WEIGHT_USED: Final = Gauge(
    "marketcast_rest_weight_used",
    "Request weight the exchange reports used in the current minute (last response).",
    ["market"],
    registry=REGISTRY,
)
REST_RATE_LIMITED: Final = Counter(
    "marketcast_rest_rate_limited",
    "REST answers 429 (rate limited) and 418 (IP banned) from the exchange.",
    ["market", "status"],
    registry=REGISTRY,
)

# --- hub ---------------------------------------------------------------------------------
INGEST_TO_PUBLISH: Final = Histogram(
    "marketcast_ingest_to_publish_seconds",
    "From the hub taking an update off the exchange stream to publishing it to clients.",
    ["market", "feed"],
    buckets=_INGEST_BUCKETS,
    registry=REGISTRY,
)


class _LagHistograms:
    """``marketcast_exchange_to_client_seconds``: a histogram observed once per update
    handed to clients, the hub's hottest metric.

    prometheus_client's ``Histogram.observe`` takes a lock for the sum and another for
    the bucket (a sixth of ``bench/ingest.py``'s profile); the event loop is the only
    writer here, so plain counters per label set do, rendered as a histogram when
    scraped (cumulative buckets, ``_count``, ``_sum``, as the client library would).
    """

    name = "marketcast_exchange_to_client_seconds"
    documentation = "From the exchange's event time to the update being handed to client sockets."

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = buckets
        self._series: dict[tuple[str, str], _LagCounts] = {}

    def labels(self, market: str, feed: str) -> _LagCounts:
        found = self._series.get((market, feed))
        if found is None:
            found = self._series[market, feed] = _LagCounts(len(self.bounds) + 1)
        return found

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=("market", "feed"))
        for labels, series in self._series.items():
            cumulative = list(itertools.accumulate(series.counts))
            names = [*map(floatToGoString, self.bounds), "+Inf"]
            family.add_metric(list(labels), list(zip(names, cumulative, strict=True)), series.total)
        yield family


class _LagCounts:
    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets  # per bucket, not cumulative; the last is +Inf
        self.total = 0.0


EXCHANGE_TO_CLIENT: Final = _LagHistograms(_CLIENT_BUCKETS)
REGISTRY.register(EXCHANGE_TO_CLIENT)
CANDLES_FILLED: Final = Counter(
    "marketcast_candles_filled",
    "Candles written from REST to fill a gap or bootstrap a topic.",
    ["market"],
    registry=REGISTRY,
)
EXCHANGE_GAPS: Final = Counter(
    "marketcast_exchange_gaps",
    "Ranges the exchange itself has no candles for (recorded, never papered over).",
    ["market"],
    registry=REGISTRY,
)
BOOK_RESYNCS: Final = Counter(
    "marketcast_book_resyncs",
    "Order books rebuilt from a fresh snapshot.",
    ["market"],
    registry=REGISTRY,
)
TRADE_GAP_FILLS: Final = Counter(
    "marketcast_trade_gap_fills",
    "Breaks in a trade tape's ids repaired from REST.",
    ["market"],
    registry=REGISTRY,
)
HISTORY_PAGES: Final = Counter(
    "marketcast_history_pages",
    "Pages of candles older than the buffer read for clients, by where they came from: "
    "cache (memory, Redis, or a fetch already under way) or exchange.",
    ["market", "source"],
    registry=REGISTRY,
)
HISTORY_BUSY: Final = Counter(
    "marketcast_history_busy",
    "Older-history pages that could not be fetched now (their weight share spent, or the "
    "exchange rate limiting or away): answered 503 with Retry-After.",
    ["market"],
    registry=REGISTRY,
)
TRADES_FILLED: Final = Counter(
    "marketcast_trades_filled",
    "Trades fetched from REST to repair breaks in trade tapes.",
    ["market"],
    registry=REGISTRY,
)
LEADER: Final = Gauge(
    "marketcast_leader",
    "1 while this node holds the market's ingest lease (Redis store), else 0.",
    ["market"],
    registry=REGISTRY,
)

# --- store -------------------------------------------------------------------------------
STORE_OPERATION: Final = Histogram(
    "marketcast_store_operation_seconds",
    "Time of one store operation, failed ones included.",
    ["store", "operation"],
    buckets=_STORE_BUCKETS,
    registry=REGISTRY,
)
STORE_ERRORS: Final = Counter(
    "marketcast_store_errors",
    "Store operations that failed because the store was unavailable.",
    ["store", "operation"],
    registry=REGISTRY,
)

# --- client transport --------------------------------------------------------------------
WS_CLIENTS: Final = Gauge(
    "marketcast_ws_clients",
    "Open client WebSockets, by route template.",
    ["route"],
    registry=REGISTRY,
)
SUBSCRIPTIONS: Final = Gauge(
    "marketcast_subscriptions",
    "Live client subscriptions, by channel.",
    ["channel"],
    registry=REGISTRY,
)
SLOW_CONSUMER_CLOSES: Final = Counter(
    "marketcast_slow_consumer_closes",
    "Clients closed with 4008 because they did not keep up.",
    registry=REGISTRY,
)


def counted_subscription(channel: str, unsubscribe: Callable[[], None]) -> Callable[[], None]:
    """Count one subscription on ``channel`` until the returned function ends it
    (calling that more than once ends it once)."""
    gauge = SUBSCRIPTIONS.labels(channel)
    gauge.inc()
    done = False

    def end() -> None:
        nonlocal done
        if not done:
            done = True
            gauge.dec()
            unsubscribe()

    return end


class ExchangeLag:
    """How old updates of one market's ``feed`` are as they reach client sockets.

    Made once per owner (the bus, a book, a tape): the labelled histogram is looked up
    here, not on every update of the hot path.
    """

    __slots__ = ("_bounds", "_series")

    def __init__(self, market: str, feed: str) -> None:
        self._bounds = EXCHANGE_TO_CLIENT.bounds
        self._series = EXCHANGE_TO_CLIENT.labels(market, feed)

    def observe(self, event_ms: int | None) -> None:
        if event_ms:
            seconds = max(time.time() - event_ms / 1000, 0.0)
            series = self._series
            # The first bucket whose upper bound holds it (bounds are inclusive).
            series.counts[bisect.bisect_left(self._bounds, seconds)] += 1
            series.total += seconds


@contextmanager
def timed_store_operation(store: str, operation: str) -> Iterator[None]:
    """Time the block as one ``operation`` of ``store`` (``memory`` or ``redis``)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STORE_OPERATION.labels(store, operation).observe(time.perf_counter() - started)
