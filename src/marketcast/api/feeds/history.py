"""Candles of any range: the buffer, and what is older from the exchange, without a seam.

The buffer holds a topic's newest candles from its oldest one, ``B0``, on. A range that
reaches before ``B0`` is completed from older history (:mod:`marketcast.hub.history`):
everything older than ``B0`` comes from there and everything from ``B0`` on from the
buffer, so the two meet at ``B0`` with neither a hole nor a repeat. Candles before ``B0``
are closed (``B0`` exists), so older history never holds a forming candle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marketcast.api.state import AppState
from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.topics import Topic
from marketcast.errors import BeforeHistory


@dataclass(frozen=True, slots=True)
class Candles:
    """A ``/candles`` answer: ``candles`` oldest first; when older history took part,
    the exchange gaps inside it and whether it starts at the symbol's first candle."""

    candles: list[Candle]
    gaps: list[TimeRange] = field(default_factory=list)
    first_open: int | None = None  # set when the answer starts at the first candle


async def read_candles(
    state: AppState, topic: Topic, limit: int, since: int | None, before: int | None
) -> Candles:
    """``limit`` candles from ``since`` on (the oldest ones) or before ``before`` (the
    newest ones), from the buffer and, where it does not reach, from older history.

    Raises:
        BeforeHistory: the whole range lies before the symbol's first candle.
        HistoryBusy: older candles were needed and cannot be fetched now.
    """
    store = state.hub.store
    held = await store.read(topic, limit=limit, since=since, before=before)
    history = state.history
    if history is None or (since is None and before is None):
        return Candles(held)
    if since is None and len(held) >= limit:
        return Candles(held)
    if since is not None and held and held[0].open_time <= since:
        return Candles(held)  # the buffer holds ``since`` itself (a resume, typically)
    oldest = await store.read(topic, limit=1, since=0)
    if not oldest or (since is not None and since >= oldest[0].open_time):
        return Candles(held)
    buffer_first = oldest[0].open_time
    end = buffer_first if before is None else min(before, buffer_first)
    closed_through = topic.interval.prev_open(buffer_first)
    try:
        if since is not None:
            older = await history.since(topic, since, end, limit, closed_through)
            candles = (older.candles + held)[:limit]
        else:
            older = await history.before(topic, end, limit - len(held), closed_through)
            candles = older.candles + held
    except BeforeHistory as refused:
        if not held:
            raise
        return Candles(held, first_open=refused.first_open_ms)  # the buffer starts there
    first = await history.first_open(topic) if older.reached_first else None
    return Candles(candles, older.gaps, first)
