"""Per-connection misbehaviour: what one WebSocket connection should get wrong next.

The connection asks these counters, passing the real time in, before it sends anything;
:class:`~marketcast.exchanges.sim.injection.Faults` arms them.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson


class ConnectionFaults:
    """Armed faults of one connection; every ``take_*`` consumes what it reports."""

    def __init__(self) -> None:
        self.stall_until = 0.0
        self.delay_s = 0.0
        self.delay_until = 0.0
        self.duplicates = 0
        self.malformed = 0
        self.skip_finals = 0
        self.trade_gaps = 0
        self.depth_gaps = 0

    def stalled(self, real_s: float) -> bool:
        return real_s < self.stall_until

    def delay(self, real_s: float) -> float:
        return self.delay_s if real_s < self.delay_until else 0.0

    def take_duplicate(self) -> bool:
        if self.duplicates <= 0:
            return False
        self.duplicates -= 1
        return True

    def take_skip_final(self) -> bool:
        if self.skip_finals <= 0:
            return False
        self.skip_finals -= 1
        return True

    def take_trade_gap(self) -> bool:
        """Whether to leave out the next trade or aggTrade payload."""
        if self.trade_gaps <= 0:
            return False
        self.trade_gaps -= 1
        return True

    def take_depth_gap(self) -> bool:
        """Whether to leave out the next depth diff (its update ids are never sent)."""
        if self.depth_gaps <= 0:
            return False
        self.depth_gaps -= 1
        return True

    def take_malformed(self) -> int:
        count, self.malformed = self.malformed, 0
        return count


def garbage_frames(count: int, stream: str | None, event_time: int) -> Iterator[str]:
    """``count`` bad frames, cycling: truncated JSON, not JSON at all, a kline with fields
    of the wrong type, and an event missing its fields (wrapped like real data when the
    connection is combined, so only the content is wrong)."""
    for i in range(count):
        kind = i % 4
        if kind == 0:
            yield '{"e":"kline","E":' + str(event_time) + ',"s":"BTCUSDT","k":{"t":'
        elif kind == 1:
            yield "<html>502 Bad Gateway</html>"
        else:
            payload: dict[str, object] = {"e": "kline", "E": event_time}
            if kind == 2:
                payload |= {"s": 42, "k": {"t": "yesterday", "o": None, "x": "maybe"}}
            body = {"stream": stream, "data": payload} if stream else payload
            yield orjson.dumps(body).decode()
