"""What only this node's sockets know, read by ``/metrics`` when it is scraped.

Counters and histograms are recorded as things happen (:mod:`marketcast.metrics`); the
depth of the outbound queues is a state, so it is measured at scrape time instead of
being kept up to date on every send.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from marketcast.api.transport.sockets import Sockets


class OutboundQueues(Collector):
    """Messages waiting in client sockets' outbound queues."""

    def __init__(self, sockets: Sockets) -> None:
        self._sockets = sockets

    def collect(self) -> Iterator[Metric]:
        depths = self._sockets.queue_depths()
        yield GaugeMetricFamily(
            "marketcast_ws_outbound_queued_messages",
            "Messages queued for client WebSockets, all clients together.",
            value=sum(depths),
        )
        yield GaugeMetricFamily(
            "marketcast_ws_outbound_queued_messages_max",
            "Messages queued for the client WebSocket that is furthest behind.",
            value=max(depths, default=0),
        )


def node_registry(sockets: Sockets) -> CollectorRegistry:
    """What this node adds to the process's metrics."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(OutboundQueues(sockets))
    return registry
