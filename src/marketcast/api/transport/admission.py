"""Admission of WebSocket handshakes: rate and concurrency limits, per node and per address.

A handshake past a limit is refused before any WebSocket is set up, with an HTTP status a
client can act on: ``503`` when the node is full or takes more handshakes a second than
it allows, ``429`` when one address holds too many connections or opens them too fast;
both with ``Retry-After``. The server's HTTP protocol asks here as the upgrade begins
(:mod:`.server`), so a refusal costs a few microseconds: a flood of handshakes cannot
starve the connections already open, nor ``/health`` (plain HTTP is never gated here).

The address is the peer's IP as the server sees it: behind a proxy every client shares
the proxy's, so the per-address limits there should be raised or the proxy should limit.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from marketcast.api.transport.ratelimit import TokenBucket
from marketcast.config import Settings

log = logging.getLogger(__name__)

# Forget the buckets of idle addresses once this many are held.
MAX_TRACKED_ADDRESSES: Final = 10_000
REFUSAL_LOG_EVERY_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_connections: int
    max_connections_per_ip: int
    handshakes_per_s: float
    handshakes_per_ip_per_s: float


def admission_limits(settings: Settings) -> AdmissionLimits:
    return AdmissionLimits(
        max_connections=settings.max_connections,
        max_connections_per_ip=settings.max_connections_per_ip,
        handshakes_per_s=settings.max_handshakes_per_s,
        handshakes_per_ip_per_s=settings.max_handshakes_per_ip_per_s,
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str
    retry_after_s: int


class Admission:
    """Open WebSocket connections, node-wide and per address, and handshake rates (pure)."""

    def __init__(self, limits: AdmissionLimits, now: float) -> None:
        self.limits = limits
        self.open = 0
        self._by_address: Counter[str] = Counter()
        self._node = TokenBucket(limits.handshakes_per_s, limits.handshakes_per_s, now)
        self._addresses: dict[str, TokenBucket] = {}

    def connections_from(self, address: str) -> int:
        return self._by_address[address]

    def admit(self, address: str, now: float) -> Refusal | None:
        """Count a connection in, or say why it is refused."""
        limits = self.limits
        if self.open >= limits.max_connections:
            return Refusal(503, f"node at its limit of {limits.max_connections} connections", 5)
        if self._by_address[address] >= limits.max_connections_per_ip:
            limit = limits.max_connections_per_ip
            return Refusal(429, f"address at its limit of {limit} connections", 5)
        if not self._node.take(now):
            return Refusal(503, "node takes no more handshakes this second", 1)
        if not self._bucket(address, now).take(now):
            return Refusal(429, "too many handshakes from this address", 1)
        self.open += 1
        self._by_address[address] += 1
        return None

    def closed(self, address: str) -> None:
        self.open -= 1
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]

    def _bucket(self, address: str, now: float) -> TokenBucket:
        bucket = self._addresses.get(address)
        if bucket is None:
            if len(self._addresses) >= MAX_TRACKED_ADDRESSES:
                self._forget_idle(now)
            rate = self.limits.handshakes_per_ip_per_s
            bucket = self._addresses[address] = TokenBucket(rate, rate, now)
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets of addresses that refilled: they are as good as new."""
        for address in [a for a, bucket in self._addresses.items() if bucket.full(now)]:
            del self._addresses[address]


class RefusalLog:
    """Logs refusals at most once per period, with counts: a flood must not flood the log."""

    def __init__(self, every_s: float = REFUSAL_LOG_EVERY_S) -> None:
        self.every_s = every_s
        self.refused = 0
        self._counts: Counter[str] = Counter()
        self._next_log_at = float("-inf")

    def note(self, refusal: Refusal, now: float) -> None:
        self.refused += 1
        self._counts[refusal.reason] += 1
        if now >= self._next_log_at:
            counts = ", ".join(f"{n} x {reason}" for reason, n in self._counts.items())
            log.warning("websocket handshakes refused: %s", counts)
            self._counts.clear()
            self._next_log_at = now + self.every_s


def refusal_response(refusal: Refusal) -> bytes:
    """The whole HTTP response refusing a handshake (the connection closes after it)."""
    body = f'{{"detail":"{refusal.reason}","status_code":{refusal.status}}}'.encode()
    phrase = HTTPStatus(refusal.status).phrase
    head = (
        f"HTTP/1.1 {refusal.status} {phrase}\r\n"
        f"retry-after: {refusal.retry_after_s}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body
