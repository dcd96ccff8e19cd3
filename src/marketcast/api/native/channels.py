"""The native ``orderbook``, ``trades`` and ``liquidations`` channels, and their REST reads.

Every channel reads a feed of :mod:`marketcast.hub.symbol_feeds.protocols` through ``AppState``; a
node without that feed answers ``not_ready`` (REST 503). Symbols are resolved by the
caller (``hub.resolve_symbol``) and echoed as exchange ids. Display precision, base asset
and the order book's rounding options come from the symbol service.

A subscription holds its feed (``acquire``) until it is replaced, unsubscribed or the
connection closes, and then releases it exactly once. Snapshot and updates never leave a
gap or repeat: the snapshot is read and the listener registered with no ``await``
between them, and feeds call listeners on this same event loop.

- ``orderbook``: ``limit`` 1..``max_orderbook_limit`` (default 20), ``rounding`` one of
  the symbol's options (default its ``default_rounding``). The snapshot is the view, then
  each feed push sends the whole view again (the feed caps the rate). A view still queued
  for a slow client is replaced by the newer one, never queued twice.
- ``trades``: ``limit`` 1..``trade_history`` (default 50), ascending id. With ``since``
  (the last id the client holds) the snapshot is every held trade after it; if the tape
  no longer holds the trade right after ``since``, the snapshot is the newest ``limit``
  flagged ``reset: true`` (the client must drop what it holds: its copy has a hole).
  Updates carry trades new to the tape in ascending id; a gap fill may carry ids older
  than ones already sent, so clients insert by id.
- ``liquidations``: the newest ``limit`` (default 50, up to ``liquidation_history``),
  newest first, flagged as a sample (``@forceOrder`` sends at most one per symbol per
  second); then one message per liquidation. With a
  ``timeframe`` the snapshot adds every held volume bucket and each update the bucket
  that now holds the liquidation. A symbol without a USD-M perpetual is refused with
  ``no_liquidations`` (404). Every message names ``usdm``, the market liquidations come
  from, whatever the node's default market; the caller refuses any other market named
  (:func:`~marketcast.api.feeds.lookup.liquidations_market`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from marketcast.api.feeds.lookup import (
    ALL_TIME,
    DEFAULT_LIQUIDATIONS_LIMIT,
    DEFAULT_TRADES_LIMIT,
    LIQUIDATIONS_MARKET,
    book_params,
    books_of,
    checked_limit,
    liquidations_of,
    symbol_meta,
    trades_after,
    trades_of,
)
from marketcast.api.feeds.shapes import EncodeOnce
from marketcast.api.native.formats import (
    book_snapshot,
    encode_book_update,
    encode_liquidation_update,
    encode_trades_update,
    liquidations_body,
    trades_snapshot,
)
from marketcast.api.native.protocol import (
    BookSubscribe,
    LiquidationSubscribe,
    TradeSubscribe,
)
from marketcast.api.state import AppState
from marketcast.api.transport.messages import Json, dumps
from marketcast.api.transport.session import ClientSession
from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import Liquidation
from marketcast.domain.trades import Trade
from marketcast.errors import NotReady
from marketcast.hub.symbol_feeds.protocols import Release
from marketcast.metrics import counted_subscription

Detach = Callable[[], None]

shared_encodings = EncodeOnce()
"""Update texts shared by every connection of this process (see :class:`EncodeOnce`)."""


def tie_to_session(session: ClientSession, release: Release, stop: Callable[[], None]) -> Detach:
    """Tie the feed to the session: released once, on detach or on close."""

    def detach() -> None:
        stop()
        release()

    if session.close_code is not None:  # closed while acquiring: on_close already ran
        detach()
        return lambda: None
    return session.on_close(detach)


# -- orderbook -----------------------------------------------------------------------
async def read_book(
    state: AppState, symbol: str, limit: int | None, rounding: Decimal | None
) -> Json:
    """The REST body: the snapshot without ``type`` and ``channel``."""
    feed = books_of(state)
    meta, checked, chosen = await book_params(state, symbol, limit, rounding)
    release = await feed.acquire(symbol)
    try:
        view = feed.view(symbol, checked, chosen)
    finally:
        release()
    snapshot = book_snapshot(symbol, view, meta.rounding_options, state.market)
    return {k: v for k, v in snapshot.items() if k not in ("type", "channel")}


async def subscribe_book(
    state: AppState, session: ClientSession, symbol: str, message: BookSubscribe
) -> Detach:
    """Send the view, then the view again after each change; return the detach function."""
    feed = books_of(state)
    meta, limit, rounding = await book_params(state, symbol, message.limit, message.rounding)
    release = await feed.acquire(symbol)
    try:
        view = feed.view(symbol, limit, rounding)
    except BaseException:
        release()
        raise
    sent = view.version
    key = object()  # this subscription's queued view, replaced by a newer one

    def push(version: int) -> None:
        nonlocal sent
        try:
            current = feed.view(symbol, limit, rounding)
        except NotReady:
            return  # resyncing: the feed pushes again once the book is back
        if current.version != sent:
            sent = current.version
            text = shared_encodings.text(
                current, symbol, lambda: encode_book_update(symbol, current, state.market)
            )
            session.send(text, key)

    unwatch = counted_subscription("book", feed.watch(symbol, push))
    session.send(dumps(book_snapshot(symbol, view, meta.rounding_options, state.market)))
    return tie_to_session(session, release, unwatch)


# -- trades --------------------------------------------------------------------------
async def subscribe_trades(
    state: AppState, session: ClientSession, symbol: str, message: TradeSubscribe
) -> Detach:
    """Send recent trades, then every trade new to the tape; return the detach function."""
    feed = trades_of(state)
    market = state.market
    capacity = state.settings.trade_history
    limit = checked_limit(message.limit, default=DEFAULT_TRADES_LIMIT, maximum=capacity)
    meta = await symbol_meta(state, symbol)
    release = await feed.acquire(symbol)
    try:
        held = feed.recent(symbol, capacity if message.since_id is not None else limit)
        trades, reset = trades_after(held, message.since_id, limit)
    except BaseException:
        release()  # nobody else holds this hold's release
        raise

    # The tape delivers in id order from the end of this snapshot on. A client that resumed
    # ahead of this node's tape (it followed another node) already holds the next ids.
    last = trades[-1].id if trades else (None if reset else message.since_id)

    def push(new: Sequence[Trade]) -> None:
        nonlocal last
        if new and last is not None and new[0].id <= last:
            new = [trade for trade in new if trade.id > last]
        if not new:
            return
        last = new[-1].id
        variant = ("trades", symbol)
        session.send(
            shared_encodings.text(
                new, variant, lambda: encode_trades_update(symbol, new, meta, market)
            )
        )

    def start_over(breaks: int) -> None:
        # The tape lost ids for good: this client's copy has a hole. A fresh snapshot
        # flagged reset tells it to drop what it holds, as a resume too old would.
        nonlocal last
        newest = list(reversed(feed.recent(symbol, limit)))
        last = newest[-1].id if newest else None
        session.send(dumps(trades_snapshot(symbol, newest, meta, True, market)))

    unwatch = counted_subscription("trades", feed.watch(symbol, push))
    unwatch_breaks = feed.watch_breaks(symbol, start_over)
    session.send(dumps(trades_snapshot(symbol, trades, meta, reset, market)))

    def stop() -> None:
        unwatch()
        unwatch_breaks()

    return tie_to_session(session, release, stop)


async def read_trades(state: AppState, symbol: str, limit: int, since_id: int | None) -> Json:
    """The REST body: the snapshot without ``type`` and ``channel``."""
    feed = trades_of(state)
    capacity = state.settings.trade_history
    meta = await symbol_meta(state, symbol)
    release = await feed.acquire(symbol)
    try:
        held = feed.recent(symbol, capacity if since_id is not None else limit)
    finally:
        release()
    trades, reset = trades_after(held, since_id, limit)
    snapshot = trades_snapshot(symbol, trades, meta, reset, state.market)
    return {k: v for k, v in snapshot.items() if k not in ("type", "channel")}


# -- liquidations --------------------------------------------------------------------
async def subscribe_liquidations(
    state: AppState, session: ClientSession, symbol: str, message: LiquidationSubscribe
) -> Detach:
    """Send recent liquidations (and buckets), then each new one; return the detach."""
    feed = liquidations_of(state, symbol)
    maximum = state.settings.liquidation_history
    limit = checked_limit(message.limit, default=DEFAULT_LIQUIDATIONS_LIMIT, maximum=maximum)
    meta = await symbol_meta(state, symbol)
    release = await feed.acquire(symbol)
    timeframe = message.timeframe
    try:
        recent = feed.recent(symbol, limit)
        volume = None
        if timeframe is not None:
            volume = (timeframe.code, feed.volume(symbol, timeframe, *ALL_TIME))
    except BaseException:
        release()  # nobody else holds this hold's release
        raise

    def push(liquidation: Liquidation) -> None:
        def encode() -> str:
            bucket = None
            if timeframe is not None:
                bucket = (timeframe.code, feed.bucket(symbol, timeframe, liquidation.time_ms))
            return encode_liquidation_update(symbol, liquidation, meta, bucket, LIQUIDATIONS_MARKET)

        # Subscribers that named no market format with the default market's symbol
        # metadata, those that named usdm with USD-M's: one liquidation, two texts.
        variant = (state.market, symbol, None if timeframe is None else timeframe.code)
        session.send(shared_encodings.text(liquidation, variant, encode))

    unwatch = counted_subscription("liquidations", feed.watch(symbol, push))
    body = liquidations_body(symbol, recent, meta, volume, LIQUIDATIONS_MARKET)
    session.send(dumps({"type": "snapshot", "channel": "liquidations"} | body))
    return tie_to_session(session, release, unwatch)


async def read_liquidations(
    state: AppState,
    symbol: str,
    limit: int,
    volume: tuple[Interval, int, int] | None,
) -> Json:
    """The REST body: recent liquidations, and buckets of ``(timeframe, start, end)``."""
    feed = liquidations_of(state, symbol)
    meta = await symbol_meta(state, symbol)
    release = await feed.acquire(symbol)
    try:
        recent = feed.recent(symbol, limit)
        buckets = None
        if volume is not None:
            timeframe, start_ms, end_ms = volume
            buckets = (timeframe.code, feed.volume(symbol, timeframe, start_ms, end_ms))
    finally:
        release()
    return liquidations_body(symbol, recent, meta, buckets, LIQUIDATIONS_MARKET)
