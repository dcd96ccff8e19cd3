"""Whether a client keeps up: what it was sent against what it has acknowledged (pure).

A socket's send buffer says nothing about the client: on loopback, or behind a proxy,
the kernel and the proxy take megabytes a stalled client never reads, so a server that
waits for writes to block finds out a minute late, if ever. The client's own answer does
not lie: a WebSocket pong comes back only once the client has read every frame sent
before the ping. So each connection is pinged, and a pong acknowledges everything sent
before its ping.

A client is a slow consumer when a ping has gone unanswered for ``max_age_s``, or when
more than ``max_unacked_bytes`` were sent since the last acknowledged ping. A ping goes
out when none is in flight and either ``probe_bytes`` were sent since the last
acknowledgement or ``interval_s`` passed without one (which also keeps idle connections
alive through proxies).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Final

DEFAULT_INTERVAL_S: Final = 5.0
DEFAULT_PROBE_BYTES: Final = 128 * 1024

_payloads = itertools.count(1)


@dataclass(frozen=True, slots=True)
class AckPolicy:
    max_age_s: float
    max_unacked_bytes: int
    interval_s: float = DEFAULT_INTERVAL_S
    probe_bytes: int = DEFAULT_PROBE_BYTES


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes
    sent_bytes: int
    at: float


@dataclass(slots=True)
class Acks:
    """One connection's account: bytes sent, bytes acknowledged, the ping in flight."""

    policy: AckPolicy
    last_ack_at: float
    sent: int = 0
    acked: int = 0
    ping: Ping | None = field(default=None)

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    def wrote(self, size: int) -> None:
        self.sent += size

    def next_ping(self, now: float) -> bytes | None:
        """The payload of a ping to send now, or ``None`` if none is due."""
        if self.ping is not None:
            return None
        policy = self.policy
        if self.unacked < policy.probe_bytes and now - self.last_ack_at < policy.interval_s:
            return None
        payload = next(_payloads).to_bytes(8, "big")
        self.ping = Ping(payload, self.sent, now)
        return payload

    def ponged(self, payload: bytes, now: float) -> bool:
        """Take a pong; ``True`` if it answered the ping in flight."""
        if self.ping is None or payload != self.ping.payload:
            return False
        self.acked = self.ping.sent_bytes
        self.last_ack_at = now
        self.ping = None
        return True

    def lag(self, now: float) -> str | None:
        """Why the client is a slow consumer, or ``None`` while it keeps up."""
        policy = self.policy
        if self.unacked > policy.max_unacked_bytes:
            return f"{self.unacked} bytes unacknowledged (limit {policy.max_unacked_bytes})"
        if self.ping is not None and now - self.ping.at > policy.max_age_s:
            return f"no pong for {now - self.ping.at:.1f}s (limit {policy.max_age_s:g}s)"
        return None
