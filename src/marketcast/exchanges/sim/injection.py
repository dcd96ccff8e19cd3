"""Fault injection on demand (``sim.faults``) and on a schedule.

Connection-level faults (drop, stall, delay, duplicate, malformed, skip_final, trade_gap,
depth_gap, age limit, shutdown) act on every connection open at the moment of the call,
each with its own count, and return how many connections they reached; connections
opened later are unaffected. They reach spot and USD-M futures connections alike, or
only one market's with ``market="spot"`` / ``market="usdm"``; a scheduled fault reaches
both. REST faults (errors, latency) and downtime hit both markets' REST and sockets; a
REST error armed with ``market=`` is taken only by that market's requests. The
liquidation-history service is not Binance and takes no Binance fault.
"""

from __future__ import annotations

import asyncio
import logging
import time

from marketcast.exchanges.sim.faults.schedule import REST_ERROR_STATUSES, FaultAction, FaultSchedule
from marketcast.exchanges.sim.runtime import CloseRequest, LiveConnection, SimRuntime
from marketcast.exchanges.sim.truth.ground_truth import Downtime
from marketcast.exchanges.sim.wire.streams import Market

log = logging.getLogger(__name__)


class Faults:
    """The fault controls of one running simulator."""

    def __init__(self, runtime: SimRuntime) -> None:
        self._runtime = runtime

    def drop_connections(self, market: Market | None = None) -> int:
        """Close every WebSocket without a close frame (the client sees 1006)."""
        return self._close_all(CloseRequest(None), market)

    def stall(self, seconds: float, market: Market | None = None) -> int:
        """Keep sockets open (pings still answered) but send nothing for ``seconds``.

        Updates due meanwhile are lost, as on a stalled upstream; streaming resumes with
        the then-current candle.
        """
        until = self._real() + seconds
        connections = self._connections(market)
        for conn in connections:
            conn.faults.stall_until = until
        return len(connections)

    def delay(self, seconds: float, duration: float, market: Market | None = None) -> int:
        """Hold every message ``seconds`` before sending it, for the next ``duration`` s."""
        until = self._real() + duration
        connections = self._connections(market)
        for conn in connections:
            conn.faults.delay_s, conn.faults.delay_until = seconds, until
        return len(connections)

    def duplicate(self, count: int, market: Market | None = None) -> int:
        """Send each connection's next ``count`` data messages twice."""
        connections = self._connections(market)
        for conn in connections:
            conn.faults.duplicates += count
        return len(connections)

    def malformed(self, count: int, market: Market | None = None) -> int:
        """Send ``count`` garbage frames on each connection at its next tick."""
        connections = self._connections(market)
        for conn in connections:
            conn.faults.malformed += count
        return len(connections)

    def skip_final(self, count: int, market: Market | None = None) -> int:
        """Suppress each connection's next ``count`` ``x: true`` updates."""
        connections = self._connections(market)
        for conn in connections:
            conn.faults.skip_finals += count
        return len(connections)

    def trade_gap(self, count: int, market: Market | None = None) -> int:
        """Leave each connection's next ``count`` trade/aggTrade payloads out of its
        streams: a WebSocket id gap that ``/api/v3/trades`` and ``/aggTrades`` still fill."""
        connections = self._connections(market)
        for conn in connections:
            conn.faults.trade_gaps += count
        return len(connections)

    def depth_gap(self, count: int = 1, market: Market | None = None) -> int:
        """Leave each connection's next ``count`` depth diffs out: the next event's ``U``
        is past the previous ``u + 1``, a sequence break a client must resync from."""
        connections = self._connections(market)
        for conn in connections:
            conn.faults.depth_gaps += count
        return len(connections)

    def connection_age_limit(self, market: Market | None = None) -> int:
        """Close every connection as Binance does when it reaches 24 hours."""
        return self._close_all(CloseRequest(1001, "connection age limit"), market)

    def server_shutdown(self, grace_s: float = 1.0, market: Market | None = None) -> int:
        """Send the ``serverShutdown`` event on every connection, close ``grace_s`` later."""
        connections = self._connections(market)
        for conn in connections:
            conn.announce_shutdown(grace_s)
        return len(connections)

    def rest_errors(
        self,
        status: int,
        count: int = 1,
        retry_after: float | None = None,
        market: Market | None = None,
    ) -> None:
        """Fail the next ``count`` REST requests (of ``market``, or of either) with
        ``status`` (429, 418 or 5xx)."""
        if status not in REST_ERROR_STATUSES:
            raise ValueError(f"status must be one of {sorted(REST_ERROR_STATUSES)}")
        self._runtime.rest_faults.arm(status, count, retry_after, market)

    def clear_rest_errors(self) -> None:
        """Forget every armed REST failure not yet taken."""
        self._runtime.rest_faults.clear()

    def rest_latency(self, seconds: float) -> None:
        """Delay every REST response by ``seconds`` from now on (0 turns it off)."""
        self._runtime.rest_faults.latency_s = seconds

    def downtime(self, duration_ms: int) -> Downtime:
        """Take the exchange down from the virtual now for ``duration_ms``.

        Connections are dropped and refused, REST answers 503, and candles lying wholly
        inside the window never exist: afterwards REST has a true gap there.
        """
        start = self._runtime.clock.now_ms()
        window = Downtime(start, start + duration_ms)
        self._runtime.downtimes.append(window)
        self._close_all(CloseRequest(None))
        return window

    def apply(self, action: FaultAction) -> None:
        """Run one scheduled fault."""
        args = action.args
        match action.name:
            case "drop":
                self.drop_connections()
            case "stall":
                self.stall(args[0])
            case "delay":
                self.delay(args[0], args[1])
            case "duplicate" | "malformed" | "skip_final" | "trade_gap":
                getattr(self, action.name)(int(args[0]))
            case "depth_gap":
                self.depth_gap(int(args[0]) if args else 1)
            case "age_limit":
                self.connection_age_limit()
            case "shutdown":
                self.server_shutdown(args[0] if args else 1.0)
            case "rest_error":
                self._apply_rest_error(args)
            case "rest_latency":
                self.rest_latency(args[0])
            case "downtime":
                self.downtime(int(args[0]))
            case _:
                raise ValueError(f"unknown fault {action.name!r}")

    async def run_schedule(self, schedule: FaultSchedule, started_s: float) -> None:
        """Fire each scheduled fault at its offset from ``started_s`` (monotonic s)."""
        for item in schedule.items:
            await asyncio.sleep(max(0.0, started_s + item.at_s - time.monotonic()))
            log.info("sim fault: %s", item.action)
            self.apply(item.action)

    def _apply_rest_error(self, args: tuple[float, ...]) -> None:
        count = int(args[1]) if len(args) > 1 else 1
        retry_after = args[2] if len(args) > 2 else None
        self.rest_errors(int(args[0]), count, retry_after)

    def _close_all(self, request: CloseRequest, market: Market | None = None) -> int:
        connections = self._connections(market)
        for conn in connections:
            conn.request_close(request)
        return len(connections)

    def _connections(self, market: Market | None) -> list[LiveConnection]:
        """Open connections of ``market`` (of both markets when ``None``)."""
        return [c for c in self._runtime.connections if market in (None, c.market)]

    def _real(self) -> float:
        return time.monotonic()
