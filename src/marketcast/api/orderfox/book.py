"""OrderFox's aggregated order book over WS and REST (``docs/orderfox.md``).

Routes (prefix ``/api/v1``)::

    WS  /ws/orderbook/{symbol}?limit=&rounding=
    WS  /ws/orderbook?symbol=&limit=&rounding=
    GET /orderbook/{symbol}?limit=&rounding=          (the push's body without ``type``)

``limit`` is 1..``MAX_ORDERBOOK_LIMIT`` (default 20) buckets per side; ``rounding`` must be
one of the symbol's ``roundingOptions`` (default its ``defaultRounding``). Bids are listed
high to low, and so are asks (OrderFox shows asks above the spread, the best one last),
each level keeping its cumulative total from the best price outwards.

A socket gets an ``orderbook_update`` at once and then whenever the feed says the book
changed (:meth:`BookFeed.watch`, which caps the rate). ``{"type":"update_params",
"limit":50,"rounding":0.5}`` changes either parameter without reconnecting: the reply is
``params_updated`` and a fresh push; invalid values get an ``error`` and change nothing.

Each push is encoded once per (symbol, limit, rounding, book view) and the text shared
by every client with those parameters (:class:`BookTexts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.requests import HTTPConnection

from marketcast.api.feeds.shapes import level_json, optional_number
from marketcast.api.orderfox.envelope import PREFIX, error_response
from marketcast.api.orderfox.sockets import OrderfoxSocket, open_socket
from marketcast.api.orderfox.symbols import symbol_meta
from marketcast.api.params import documented, natural, query
from marketcast.api.state import AppState, app_state
from marketcast.api.transport.messages import Json, dumps
from marketcast.domain.book_view import BookView, DepthInfo
from marketcast.domain.formatting import to_decimal
from marketcast.domain.market import SymbolMeta
from marketcast.errors import InvalidLimit, InvalidRequest, MarketcastError, NotReady
from marketcast.hub.symbol_feeds.protocols import BookFeed
from marketcast.metrics import counted_subscription

DEFAULT_LIMIT = 20
# Shared texts are kept per (symbol, limit, rounding); past this many the cache starts
# over, so parameters nobody uses any more do not pin old views forever.
MAX_SHARED_TEXTS = 4096

router = APIRouter(prefix=PREFIX)


@dataclass(frozen=True, slots=True)
class BookParams:
    limit: int
    rounding: Decimal


def parse_limit_value(raw: object, maximum: int) -> int:
    """A limit from a query string or a JSON number, in 1..``maximum``."""
    value: object = raw
    if isinstance(raw, str):
        value = natural(raw)  # digits only: int() would take "1_0" and " 7 "
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidLimit(raw, maximum)
    return value


def parse_rounding_value(raw: object, options: tuple[Decimal, ...]) -> Decimal:
    """One of ``options``, given as text (``"0.1"``) or a JSON number (``0.1``)."""
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
            raise InvalidOperation
        wanted = to_decimal(raw)
    except (InvalidOperation, ValueError):
        wanted = None
    for option in options:
        if wanted is not None and wanted.is_finite() and wanted == option:
            return option
    shown = ", ".join(format(option, "f") for option in options)
    raise InvalidRequest(f"invalid rounding {raw!r}; this symbol's rounding options: {shown}")


def book_params(
    limit: object, rounding: object, meta: SymbolMeta, max_limit: int, base: BookParams
) -> BookParams:
    """``base`` with whichever of ``limit`` and ``rounding`` is given (not None/empty)."""
    return BookParams(
        limit=base.limit if limit in (None, "") else parse_limit_value(limit, max_limit),
        rounding=(
            base.rounding
            if rounding in (None, "")
            else parse_rounding_value(rounding, meta.rounding_options)
        ),
    )


def depth_json(depth: DepthInfo) -> Json:
    return {
        "requested_levels": depth.requested_levels,
        "actual_levels": depth.actual_levels,
        "is_market_depth_limited": depth.is_market_depth_limited,
        "raw_bids_count": depth.raw_bids_count,
        "raw_asks_count": depth.raw_asks_count,
        "min_required_raw_data": depth.min_required_raw_data,
        "has_insufficient_raw_data": depth.has_insufficient_raw_data,
        "total_bid_volume": float(depth.total_bid_volume),
        "total_ask_volume": float(depth.total_ask_volume),
    }


def book_body(symbol: str, view: BookView, options: tuple[Decimal, ...], now_ms: int) -> Json:
    """The ``orderbook_update`` payload; ``timestamp`` is the exchange's event time
    (``now_ms`` for a book that has seen no event yet)."""
    depth = view.depth
    return {
        "type": "orderbook_update",
        "symbol": symbol,
        "bids": [level_json(level) for level in view.bids],
        "asks": [level_json(level) for level in reversed(view.asks)],
        "timestamp": view.event_time if view.event_time is not None else now_ms,
        "limit": view.limit,
        "rounding": float(view.rounding),
        "rounding_options": [float(option) for option in options],
        "market_depth_info": depth_json(depth),
        "aggregated": True,
        "best_bid": optional_number(depth.best_bid),
        "best_ask": optional_number(depth.best_ask),
        "spread": optional_number(depth.spread),
        "mid_price": optional_number(depth.mid_price),
        "last_update_id": view.last_update,
    }


class BookTexts:
    """Encoded pushes shared by every client of one app: a push is encoded again only
    when the feed hands out a different view (a new book version) or other options."""

    def __init__(self) -> None:
        self._texts: dict[tuple[str, int, Decimal], tuple[BookView, tuple[Decimal, ...], str]] = {}
        self.encoded = 0
        """How many pushes were encoded (for tests and metrics)."""

    def text(self, symbol: str, view: BookView, options: tuple[Decimal, ...]) -> str:
        key = (symbol, view.limit, view.rounding)
        hit = self._texts.get(key)
        # The feed computes one view per version and parameters and hands the same
        # object to every caller, so identity says "this exact book was encoded".
        if hit is not None and hit[0] is view and hit[1] == options:
            return hit[2]
        if len(self._texts) >= MAX_SHARED_TEXTS:
            self._texts.clear()
        text = dumps(book_body(symbol, view, options, int(time.time() * 1000)))
        self._texts[key] = (view, options, text)
        self.encoded += 1
        return text


def shared_texts(connection: HTTPConnection) -> BookTexts:
    """The app's :class:`BookTexts` (one per app, so two apps never share versions)."""
    state = connection.app.state
    texts: BookTexts | None = getattr(state, "orderfox_book_texts", None)
    if texts is None:
        texts = state.orderfox_book_texts = BookTexts()
    return texts


def book_feed(state: AppState) -> BookFeed:
    if state.books is None:
        raise NotReady("this node does not serve order books")
    return state.books


class BookClient:
    """One socket's order book: its parameters, its pushes and ``update_params``."""

    def __init__(
        self,
        socket: OrderfoxSocket,
        feed: BookFeed,
        meta: SymbolMeta,
        params: BookParams,
        texts: BookTexts,
    ) -> None:
        self._socket = socket
        self._feed = feed
        self._meta = meta
        self._texts = texts
        self.params = params
        # Pushes with the same key replace each other while queued (a lagging client only
        # needs the newest book); a new key per parameter change keeps a queued push of
        # the old parameters from being overwritten in front of ``params_updated``.
        self._key = object()
        # The view last queued: the feed announces a version this socket may already
        # have been sent (the first push goes out on attach), which is not sent twice.
        self._sent: BookView | None = None

    def push(self, _version: int | None = None) -> None:
        """Queue the current view unless it is the one last queued; a book that is
        resyncing is pushed after the resync."""
        symbol, params = self._socket.symbol, self.params
        try:
            view = self._feed.view(symbol, params.limit, params.rounding)
        except NotReady:
            return
        if view is self._sent:  # the feed hands out one view per version and parameters
            return
        self._sent = view
        text = self._texts.text(symbol, view, self._meta.rounding_options)
        self._socket.session.send(text, self._key)

    async def on_message(self, message: Json) -> None:
        if message.get("type") != "update_params":
            raise InvalidRequest(
                f"unknown message type {message.get('type')!r}; send update_params or ping"
            )
        max_limit = self._socket.state.settings.max_orderbook_limit
        limit, rounding = message.get("limit"), message.get("rounding")
        self.params = book_params(limit, rounding, self._meta, max_limit, self.params)
        self._key = object()
        self._sent = None  # the reply promises a fresh push, even of an unchanged view
        self._socket.send(
            {
                "type": "params_updated",
                "symbol": self._socket.symbol,
                "limit": self.params.limit,
                "rounding": float(self.params.rounding),
                "rounding_options": [float(o) for o in self._meta.rounding_options],
            }
        )
        self.push()


@router.websocket("/ws/orderbook/{symbol}")
async def orderbook_by_path(websocket: WebSocket, symbol: str) -> None:
    await _serve_book(websocket, symbol)


@router.websocket("/ws/orderbook")
async def orderbook_by_query(websocket: WebSocket) -> None:
    await _serve_book(websocket, websocket.query_params.get("symbol"))


async def _serve_book(websocket: WebSocket, symbol: str | None) -> None:
    socket = await open_socket(websocket, symbol)
    if socket is None:
        return
    try:
        client = await _attach_book(socket)
    except (MarketcastError, TimeoutError) as error:
        await socket.refuse(error)
        return
    await socket.serve(client.on_message)


async def _attach_book(socket: OrderfoxSocket) -> BookClient:
    """Validate the query, hold the symbol's book and queue the first push."""
    feed = book_feed(socket.state)
    meta = await symbol_meta(socket.state, socket.symbol)
    query = socket.websocket.query_params
    params = _query_params(socket.state, meta, query.get("limit"), query.get("rounding"))
    session = socket.session
    session.on_close(await feed.acquire(socket.symbol))
    client = BookClient(socket, feed, meta, params, shared_texts(socket.websocket))
    # No await from here to the first push: a change the feed announces meanwhile is
    # not possible, so the first push is never older than a missed one.
    session.on_close(counted_subscription("book", feed.watch(socket.symbol, client.push)))
    client.push()
    return client


def _query_params(
    state: AppState, meta: SymbolMeta, limit: str | None, rounding: str | None
) -> BookParams:
    default = BookParams(
        min(DEFAULT_LIMIT, state.settings.max_orderbook_limit), meta.default_rounding
    )
    return book_params(limit, rounding, meta, state.settings.max_orderbook_limit, default)


@router.get(
    "/orderbook/{symbol}",
    openapi_extra=documented(
        query("limit", "levels per side, default 20", type="integer", minimum=1),
        query("rounding", "one of the symbol's roundingOptions", type="number"),
    ),
)
async def get_orderbook(request: Request, symbol: str) -> Response:
    """One aggregated view, the socket's push without ``type``."""
    state = app_state(request)
    query = request.query_params
    try:
        resolved = state.hub.resolve_symbol(symbol)
        feed = book_feed(state)
        meta = await symbol_meta(state, resolved)
        params = _query_params(state, meta, query.get("limit"), query.get("rounding"))
        release: Callable[[], None] = await feed.acquire(resolved)
        try:
            view = feed.view(resolved, params.limit, params.rounding)
        finally:
            release()
    except MarketcastError as error:
        return error_response(error)
    body = book_body(resolved, view, meta.rounding_options, int(time.time() * 1000))
    del body["type"]
    return JSONResponse(body)
