"""Which streams go on which connection, and how they get subscribed.

Binance allows 1024 streams per connection. A connection names as many streams in its
URL as fit in a short query string and subscribes the rest with SUBSCRIBE requests,
a bounded number of streams per request (the requests themselves are paced by
:class:`~marketcast.exchanges.binance.limits.MessagePacer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

MAX_STREAMS_PER_CONNECTION: Final = 1024
# Proxies and servers commonly cap request lines near 4-8 KiB; stay well below.
MAX_URL_STREAMS_CHARS: Final = 1800
MAX_STREAMS_PER_REQUEST: Final = 200


def partition(streams: Iterable[str], max_streams: int) -> list[list[str]]:
    """Split ``streams`` (deduplicated, sorted) into groups of at most ``max_streams``."""
    if max_streams <= 0:
        raise ValueError("max_streams must be positive")
    ordered = sorted(set(streams))
    return [ordered[i : i + max_streams] for i in range(0, len(ordered), max_streams)]


def assign(
    new: Iterable[str], loads: Sequence[int], max_streams: int
) -> tuple[list[list[str]], list[list[str]]]:
    """Place ``new`` streams: first into existing connections with room, then new ones.

    ``loads[i]`` is how many streams connection ``i`` already carries. Returns the
    additions per existing connection (same order as ``loads``) and the groups that
    need new connections.
    """
    pending = sorted(set(new))
    additions: list[list[str]] = []
    for load in loads:
        room = max(max_streams - load, 0)
        additions.append(pending[:room])
        pending = pending[room:]
    return additions, partition(pending, max_streams)


def split_for_url(
    streams: Iterable[str], max_chars: int = MAX_URL_STREAMS_CHARS
) -> tuple[list[str], list[str]]:
    """Streams to name in ``/stream?streams=a/b``, and the rest to SUBSCRIBE afterwards."""
    in_url: list[str] = []
    rest: list[str] = []
    used = 0
    for name in sorted(set(streams)):
        cost = len(name) + (1 if in_url else 0)
        if not rest and used + cost <= max_chars:
            in_url.append(name)
            used += cost
        else:
            rest.append(name)
    return in_url, rest


def request_batches(
    streams: Iterable[str], per_request: int = MAX_STREAMS_PER_REQUEST
) -> list[list[str]]:
    """SUBSCRIBE/UNSUBSCRIBE parameter lists of at most ``per_request`` streams each."""
    return partition(streams, per_request)


def combined_url(ws_base: str, streams: Sequence[str]) -> str:
    """``{ws_base}/stream?streams=a/b`` (just ``/stream`` when there is nothing to name)."""
    base = ws_base.rstrip("/")
    return f"{base}/stream?streams={'/'.join(streams)}" if streams else f"{base}/stream"
