"""The exact order book: ``GET /depth/{symbol}`` and the ``depth`` channel of ``/ws``.

The ``orderbook`` channel serves a view rounded into price buckets; this one serves the
book the hub holds, level for level, prices and quantities as the exchange's decimal
strings (a level between two ticks stays where it is). It is for algorithms and depth
charts that keep their own copy::

    {"symbol", "market", "last_update_id", "bids": [[price, qty], ...], "asks": [...]}
    {"type": "snapshot", "channel": "depth", "reset", ...the same}
    {"type": "depth", "channel": "depth", "market", "symbol", "first_update_id",
     "last_update_id", "bids", "asks"}

A subscription sends the whole book held, then changes: each names every level that
changed after the client's ``last_update_id`` (``first_update_id`` is that id plus one)
with its quantity now, ``"0"`` to delete it. A client that applies them in order holds
the hub's book exactly; changes are sent at most at the feed's push rate, in order,
never dropped (a client that cannot keep up is closed as a slow consumer, 4008). When
the book is resynced from a new exchange snapshot the client is sent a new ``snapshot``
with ``reset: true``: it replaces what it holds.
"""

from __future__ import annotations

from collections.abc import Callable

from marketcast.api.feeds.lookup import books_of
from marketcast.api.feeds.shapes import EncodeOnce
from marketcast.api.native.channels import tie_to_session
from marketcast.api.native.protocol import DepthSubscribe
from marketcast.api.state import AppState
from marketcast.api.transport.messages import Json, dumps
from marketcast.api.transport.session import ClientSession
from marketcast.domain.book_side import Level
from marketcast.domain.depth_journal import Depth, DepthChange, StartOver
from marketcast.errors import NotReady
from marketcast.metrics import counted_subscription

DEFAULT_DEPTH_LIMIT = 100
"""Levels per side of ``GET /depth`` without ``limit`` (Binance's own default)."""

_changes = EncodeOnce()
"""Change texts shared by every client at the same update id."""


def levels_json(levels: tuple[Level, ...]) -> list[list[str]]:
    return [[str(price), str(quantity)] for price, quantity in levels]


def depth_body(symbol: str, market: str, depth: Depth) -> Json:
    return {
        "symbol": symbol,
        "market": market,
        "last_update_id": depth.last_update,
        "bids": levels_json(depth.bids),
        "asks": levels_json(depth.asks),
    }


def encode_change(symbol: str, market: str, change: DepthChange) -> str:
    return dumps(
        {
            "type": "depth",
            "channel": "depth",
            "market": market,
            "symbol": symbol,
            "first_update_id": change.after + 1,
            "last_update_id": change.last_update,
            "bids": levels_json(change.bids),
            "asks": levels_json(change.asks),
        }
    )


async def read_depth(state: AppState, symbol: str, limit: int) -> Json:
    """The REST body: ``limit`` levels per side (the caller checks it against the market's
    :func:`~marketcast.api.feeds.lookup.depth_maximum`)."""
    feed = books_of(state)
    release = await feed.acquire(symbol)
    try:
        depth = feed.depth(symbol, limit)
    finally:
        release()
    return depth_body(symbol, state.market, depth)


async def subscribe_depth(
    state: AppState, session: ClientSession, symbol: str, message: DepthSubscribe
) -> Callable[[], None]:
    """Send the whole book held, then every change in order; return the detach function."""
    feed = books_of(state)
    market = state.market
    release = await feed.acquire(symbol)
    try:
        held = feed.depth(symbol)
    except BaseException:
        release()
        raise
    cursor = (held.epoch, held.last_update)

    def send_snapshot(depth: Depth, reset: bool) -> None:
        nonlocal cursor
        cursor = (depth.epoch, depth.last_update)
        body = {"type": "snapshot", "channel": "depth", "reset": reset}
        session.send(dumps(body | depth_body(symbol, market, depth)))

    def push(version: int) -> None:
        nonlocal cursor
        try:
            change = feed.depth_since(symbol, *cursor)
            if isinstance(change, StartOver):
                send_snapshot(feed.depth(symbol), reset=True)
                return
        except NotReady:
            return  # resyncing: the feed pushes again once the book is back
        if change is not None:
            cursor = (cursor[0], change.last_update)
            session.send(
                _changes.text(change, symbol, lambda: encode_change(symbol, market, change))
            )

    unwatch = counted_subscription("depth", feed.watch(symbol, push))
    send_snapshot(held, reset=False)
    return tie_to_session(session, release, unwatch)
