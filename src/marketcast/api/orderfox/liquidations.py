"""OrderFox's liquidations: a socket and the volume route (``docs/orderfox.md``).

Routes (prefix ``/api/v1``)::

    WS  /ws/liquidations/{symbol}[?timeframe=1m|5m|15m|30m|1h|4h|1d]
    GET /liquidation-volume/{symbol}/{timeframe}?start_time=&end_time=

The socket's messages, in OrderFox's envelopes (``symbol`` is always the exchange id the
client's symbol resolved to; ``timestamp`` is when the message was built, ms)::

    {"type": "liquidation_order", "symbol", "data": [<= 50 objects, newest first],
     "initial": true, "sample": true, "timestamp"}
    {"type": "liquidation_volume", "symbol", "timeframe", "data": [buckets, oldest first],
     "is_update": false, "sample": true, "timestamp"}               (with ?timeframe= only)
    {"type": "liquidation_order", "symbol", "data": {one object}, "sample": true,
     "timestamp"}                                                    (each new liquidation)
    {"type": "liquidation_volume", "symbol", "timeframe", "data": [the bucket holding it],
     "is_update": true, "sample": true, "timestamp"}                 (right after, ?timeframe=)
    {"type": "heartbeat", "symbol", "timestamp"}       (after HEARTBEAT_S of our silence)

A liquidation object is :func:`~marketcast.domain.liquidations.liquidation_payload`, a
bucket :meth:`~marketcast.domain.liquidations.Bucket.to_json`. The initial buckets are
the newest :data:`CHART_BUCKETS` the feed holds (as many as the widest OrderFox chart has
candles); only buckets that saw a liquidation exist. ``sample: true`` because Binance's
``@forceOrder`` sends at most one liquidation per symbol and second: counts and volumes
are lower bounds, never totals.

The feed is watched before the initial list is read. The feed may announce a liquidation
that the initial list and buckets already hold (it stores before it announces), so those
announcements are dropped by key; nothing can fall between.

Refusals (see :mod:`marketcast.api.orderfox.sockets`): an unlisted symbol, or one without a
USD-M perpetual, closes 4000; an invalid ``timeframe`` closes 1008.

The volume route answers ``{symbol, timeframe, data: [buckets], start_time, end_time,
sample}`` with the non-empty buckets overlapping ``[start_time, end_time]`` (epoch ms, or
seconds). A missing ``end_time`` is now, or the newest held liquidation if that is later
(a simulated exchange's clock may run ahead); a missing ``start_time`` is 24 h before
``end_time`` (OrderFox's default). ``start_time >= end_time``, a bad number or timeframe
is a 400, an unknown symbol a 404 with ``suggestions``; errors are ``{"detail",
"status_code"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from marketcast.api.feeds.lookup import ALL_TIME, NoLiquidations
from marketcast.api.feeds.shapes import EncodeOnce
from marketcast.api.orderfox.envelope import PREFIX, error_response
from marketcast.api.orderfox.sockets import OrderfoxSocket, open_socket
from marketcast.api.orderfox.symbols import symbol_meta
from marketcast.api.params import documented, parse_time, query
from marketcast.api.state import AppState, app_state
from marketcast.api.transport.messages import Json, dumps
from marketcast.domain.intervals import DAY_MS, Interval
from marketcast.domain.liquidations import Bucket, Liquidation, liquidation_payload
from marketcast.domain.liquidations import parse_timeframe as liquidation_timeframe
from marketcast.domain.market import SymbolMeta
from marketcast.errors import InvalidRequest, MarketcastError, NotReady, UnknownSymbol
from marketcast.hub.symbol_feeds.protocols import LiquidationFeed, Release
from marketcast.metrics import counted_subscription

HEARTBEAT_S: Final = 30.0
"""Seconds of silence towards a client before a ``heartbeat`` (OrderFox: 30 s). Read
when a socket opens; tests patch it."""
INITIAL_LIQUIDATIONS: Final = 50
CHART_BUCKETS: Final = 1000
DEFAULT_RANGE_MS: Final = DAY_MS

router = APIRouter(prefix=PREFIX)

_shared = EncodeOnce()
"""Update texts by liquidation: encoded once for every client of the symbol."""


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- bodies --------------------------------------------------------------------------
def order_body(symbol: str, data: Json | list[Json], *, initial: bool) -> Json:
    body: Json = {"type": "liquidation_order", "symbol": symbol, "data": data}
    if initial:
        body["initial"] = True
    return body | {"sample": True, "timestamp": _now_ms()}


def volume_body(symbol: str, timeframe: Interval, buckets: list[Bucket], *, update: bool) -> Json:
    return {
        "type": "liquidation_volume",
        "symbol": symbol,
        "timeframe": timeframe.code,
        "data": [bucket.to_json() for bucket in buckets],
        "is_update": update,
        "sample": True,
        "timestamp": _now_ms(),
    }


def heartbeat_body(symbol: str) -> Json:
    return {"type": "heartbeat", "symbol": symbol, "timestamp": _now_ms()}


def liquidation_json(symbol: str, liquidation: Liquidation, meta: SymbolMeta) -> Json:
    return liquidation_payload(liquidation, meta.base_asset, meta.amount_precision, symbol=symbol)


# -- the feed ------------------------------------------------------------------------
def liquidation_feed(state: AppState) -> LiquidationFeed:
    if state.liquidations is None:
        raise NotReady("this node does not serve liquidations")
    return state.liquidations


async def hold(feed: LiquidationFeed, symbol: str) -> Release:
    """Acquire ``symbol``'s liquidations; a symbol without a USD-M perpetual is refused.

    ``acquire`` waits for the USD-M catalog and answers ``NotReady`` (a retryable 1013 /
    503) while it is not loaded, ``UnknownSymbol`` only once it is known there is no
    perpetual; ``covers`` is not needed here.
    """
    try:
        return await feed.acquire(symbol)
    except UnknownSymbol:
        raise NoLiquidations(symbol) from None


def parse_socket_timeframe(raw: str | None) -> Interval | None:
    return None if raw is None or raw == "" else liquidation_timeframe(raw)


# -- the socket ----------------------------------------------------------------------
class LiquidationClient:
    """One socket: its initial messages, its updates and its heartbeat."""

    def __init__(
        self, socket: OrderfoxSocket, feed: LiquidationFeed, meta: SymbolMeta, tf: Interval | None
    ) -> None:
        self._socket, self._feed, self._meta, self._timeframe = socket, feed, meta, tf
        self._sent_keys: set[object] = set()
        self.last_sent = time.monotonic()

    def send_text(self, text: str) -> None:
        self.last_sent = time.monotonic()
        self._socket.session.send(text)

    def start(self) -> None:
        """Watch, then queue the initial list (and buckets); no ``await`` in between."""
        symbol, feed = self._socket.symbol, self._feed
        unwatch = counted_subscription("liquidations", feed.watch(symbol, self.on_liquidation))
        self._socket.session.on_close(unwatch)
        recent = feed.recent(symbol, INITIAL_LIQUIDATIONS)
        self._sent_keys = {item.key for item in recent}
        data = [liquidation_json(symbol, item, self._meta) for item in recent]
        self.send_text(dumps(order_body(symbol, data, initial=True)))
        if self._timeframe is not None:
            buckets = feed.volume(symbol, self._timeframe, *ALL_TIME)[-CHART_BUCKETS:]
            self.send_text(dumps(volume_body(symbol, self._timeframe, buckets, update=False)))

    def on_liquidation(self, liquidation: Liquidation) -> None:
        if liquidation.key in self._sent_keys:
            return  # already in the initial list and buckets
        symbol, timeframe = self._socket.symbol, self._timeframe
        self.send_text(_shared.text(liquidation, ("order", symbol), self._order_text(liquidation)))
        if timeframe is not None:
            variant = ("volume", symbol, timeframe.code)
            self.send_text(_shared.text(liquidation, variant, self._volume_text(liquidation)))

    def _order_text(self, liquidation: Liquidation) -> Callable[[], str]:
        symbol = self._socket.symbol
        return lambda: dumps(
            order_body(symbol, liquidation_json(symbol, liquidation, self._meta), initial=False)
        )

    def _volume_text(self, liquidation: Liquidation) -> Callable[[], str]:
        symbol, timeframe = self._socket.symbol, self._timeframe
        assert timeframe is not None

        def encode() -> str:
            bucket = self._feed.bucket(symbol, timeframe, liquidation.time_ms)
            buckets = [] if bucket is None else [bucket]
            return dumps(volume_body(symbol, timeframe, buckets, update=True))

        return encode

    async def keep_alive(self, period_s: float) -> None:
        """Send a ``heartbeat`` whenever nothing was sent for ``period_s`` seconds."""
        while True:
            idle = time.monotonic() - self.last_sent
            if idle >= period_s:
                self.send_text(dumps(heartbeat_body(self._socket.symbol)))
                idle = 0.0
            await asyncio.sleep(period_s - idle)


@router.websocket("/ws/liquidations/{symbol}")
async def liquidations_socket(websocket: WebSocket, symbol: str) -> None:
    socket = await open_socket(websocket, symbol)
    if socket is None:
        return
    try:
        client = await _attach(socket)
    except (MarketcastError, TimeoutError) as error:
        await socket.refuse(error)
        return
    heartbeat = asyncio.create_task(client.keep_alive(HEARTBEAT_S), name="orderfox-heartbeat")
    try:
        await socket.serve()
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat


async def _attach(socket: OrderfoxSocket) -> LiquidationClient:
    timeframe = parse_socket_timeframe(socket.websocket.query_params.get("timeframe"))
    feed = liquidation_feed(socket.state)
    meta = await symbol_meta(socket.state, socket.symbol)
    socket.session.on_close(await hold(feed, socket.symbol))
    client = LiquidationClient(socket, feed, meta, timeframe)
    client.start()
    return client


# -- the volume route ----------------------------------------------------------------
def volume_range(
    start_ms: int | None, end_ms: int | None, newest_ms: int | None, now_ms: int
) -> tuple[int, int]:
    """The ``[start, end]`` a request asks for, with the module docstring's defaults."""
    if end_ms is None:
        end_ms = now_ms if newest_ms is None else max(now_ms, newest_ms)
    if start_ms is None:
        start_ms = end_ms - DEFAULT_RANGE_MS
    if start_ms >= end_ms:
        raise InvalidRequest(f"start_time ({start_ms}) must be before end_time ({end_ms})")
    return start_ms, end_ms


@router.get(
    "/liquidation-volume/{symbol}/{timeframe}",
    openapi_extra=documented(
        query(
            "start_time", "an epoch in seconds or ms; default 24 h before end_time", type="integer"
        ),
        query("end_time", "an epoch in seconds or ms; default now", type="integer"),
    ),
)
async def get_liquidation_volume(request: Request, symbol: str, timeframe: str) -> Response:
    state = app_state(request)
    query = request.query_params
    try:
        interval = liquidation_timeframe(timeframe)
        start = parse_time(query.get("start_time"), "start_time")
        end = parse_time(query.get("end_time"), "end_time")
        resolved = state.hub.resolve_symbol(symbol)
        feed = liquidation_feed(state)
        body = await _read_volume(
            feed, resolved, interval, lambda newest: volume_range(start, end, newest, _now_ms())
        )
    except MarketcastError as error:
        return error_response(error)
    return JSONResponse(body)


async def _read_volume(
    feed: LiquidationFeed,
    symbol: str,
    timeframe: Interval,
    window: Callable[[int | None], tuple[int, int]],
) -> dict[str, Any]:
    release = await hold(feed, symbol)
    try:
        newest = feed.recent(symbol, 1)
        start, end = window(newest[0].time_ms if newest else None)
        buckets = feed.volume(symbol, timeframe, start, end)
    finally:
        release()
    return {
        "symbol": symbol,
        "timeframe": timeframe.code,
        "data": [bucket.to_json() for bucket in buckets],
        "start_time": start,
        "end_time": end,
        "sample": True,
    }
