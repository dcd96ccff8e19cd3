"""Encoded /candles bodies: served only at the revision they were read at."""

from __future__ import annotations

from marketcast.domain.topics import Topic
from marketcast.hub.candles.bodies import EncodedBodies

BTC = Topic.of("BTCUSDT", "1m")
ETH = Topic.of("ETHUSDT", "1m")


def test_a_body_is_served_only_at_its_revision_and_shape() -> None:
    bodies: EncodedBodies[bytes] = EncodedBodies()
    bodies.put(BTC, 5, 1000, b"five")
    assert bodies.get(BTC, 5, 1000) == b"five"
    assert bodies.get(BTC, 6, 1000) is None  # the topic changed since
    assert bodies.get(BTC, 5, 500) is None
    assert bodies.get(ETH, 5, 1000) is None


def test_a_newer_revision_replaces_and_an_older_one_is_dropped() -> None:
    bodies: EncodedBodies[bytes] = EncodedBodies()
    bodies.put(BTC, 5, 1000, b"five")
    bodies.put(BTC, 7, 500, b"seven")
    assert bodies.get(BTC, 5, 1000) is None
    # A slow request that read at revision 6 finishes after one that read at 7.
    bodies.put(BTC, 6, 1000, b"six")
    assert bodies.get(BTC, 7, 1000) is None
    assert bodies.get(BTC, 7, 500) == b"seven"


def test_shapes_per_topic_are_bounded_oldest_first() -> None:
    bodies: EncodedBodies[bytes] = EncodedBodies(max_shapes=2)
    for limit in (100, 200, 300):
        bodies.put(BTC, 1, limit, str(limit).encode())
    assert bodies.get(BTC, 1, 100) is None
    assert (bodies.get(BTC, 1, 200), bodies.get(BTC, 1, 300)) == (b"200", b"300")
