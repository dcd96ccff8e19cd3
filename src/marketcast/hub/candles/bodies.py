"""Encoded ``/candles`` bodies and snapshots, kept for as long as the store's revision of
their topic.

Encoding 1000 candles costs the hub far more than sending them (measured with
``bench/rest.py``): charts loading the same history at once would each pay for it. A body
is kept per topic and request shape, tagged with the store revision read *before* the
candles were; it is served only while the topic is still at that revision, so a cached
body is never older than what a fresh read would return. Stores that cannot tell a
revision cheaply (Redis) get no caching.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final, Generic, TypeVar

from marketcast.domain.topics import Topic

# Request shapes kept per topic: a chart asks for one or two limits; an unbounded set of
# `since` values would only fill memory (they are not cached at all, see the route).
MAX_SHAPES_PER_TOPIC: Final = 4


Body = TypeVar("Body")


class EncodedBodies(Generic[Body]):
    """Bodies by (topic, request shape), valid for one store revision of the topic.

    ``Body`` is whatever the encoding gives: the bytes of a REST answer, or a WebSocket
    snapshot's text with what the subscription needs to know of it.
    """

    def __init__(self, max_shapes: int = MAX_SHAPES_PER_TOPIC) -> None:
        self._max_shapes = max_shapes
        self._by_topic: dict[Topic, tuple[int, dict[Hashable, Body]]] = {}

    def get(self, topic: Topic, revision: int, shape: Hashable) -> Body | None:
        held = self._by_topic.get(topic)
        if held is None or held[0] != revision:
            return None
        return held[1].get(shape)

    def put(self, topic: Topic, revision: int, shape: Hashable, body: Body) -> None:
        """Keep ``body``, encoded from a read made at ``revision``.

        A body of an older revision than the one held is dropped (a slow request finishing
        after a newer one); a newer revision replaces everything held for the topic.
        """
        held = self._by_topic.get(topic)
        if held is None or revision > held[0]:
            self._by_topic[topic] = (revision, {shape: body})
            return
        if revision < held[0]:
            return
        bodies = held[1]
        if shape not in bodies and len(bodies) >= self._max_shapes:
            del bodies[next(iter(bodies))]  # the oldest shape
        bodies[shape] = body
