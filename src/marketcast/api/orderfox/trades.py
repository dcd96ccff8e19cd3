"""OrderFox's "Last Trades" tape over one WebSocket (``docs/orderfox.md``).

Route (prefix ``/api/v1``)::

    WS /ws/trades/{symbol}

Every message is a ``trades_update`` holding the tape's newest :data:`TAPE_SIZE` trades,
newest first, as OrderFox sends them::

    {"type": "trades_update", "symbol": "BTCUSDT", "initial": true, "timestamp": <ms>,
     "trades": [{"id", "price", "amount", "side", "timestamp", "price_formatted",
                 "amount_formatted", "time_formatted"}, ...]}

The first has ``initial: true``; then one with ``initial: false`` each time the tape
gains trades (live ones and REST gap fills alike). Each message is the whole window, not
only the new trades, because OrderFox's frontend replaces its list with every message's
``trades``; a client that merges by ``id`` gets the same tape. A window never reaches
across an id gap the tape has not filled yet (:meth:`TradeFeed.recent`), so every message
is continuous by id, and a filled gap shows up in the next one. ``timestamp`` is when the
message was built (this host's clock, ms).

The feed is watched before the first window is read, with no ``await`` in between, so
no delivery falls between the initial message and the updates. A window still queued for
a lagging client is replaced by the newer one (it only needs the latest), and each window
is encoded once for every client of the symbol.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from fastapi import APIRouter, WebSocket

from marketcast.api.feeds.shapes import EncodeOnce
from marketcast.api.orderfox.envelope import PREFIX
from marketcast.api.orderfox.sockets import OrderfoxSocket, open_socket
from marketcast.api.orderfox.symbols import symbol_meta
from marketcast.api.state import AppState
from marketcast.api.transport.messages import Json, dumps
from marketcast.domain.market import SymbolMeta
from marketcast.domain.trades import Trade, trade_payload
from marketcast.errors import MarketcastError, NotReady
from marketcast.hub.symbol_feeds.protocols import TradeFeed
from marketcast.metrics import counted_subscription

TAPE_SIZE: Final = 100
"""Trades per message: OrderFox's tape cache (``deque(maxlen=100)``)."""

router = APIRouter(prefix=PREFIX)

_shared = EncodeOnce()
"""Window texts by the delivery that caused them: one encode per delivery and symbol."""


def trades_update(symbol: str, trades: Sequence[Trade], meta: SymbolMeta, *, initial: bool) -> Json:
    """One ``trades_update`` body; ``trades`` newest first."""
    precision, amount_precision = meta.price_precision, meta.amount_precision
    return {
        "type": "trades_update",
        "symbol": symbol,
        "trades": [trade_payload(trade, precision, amount_precision) for trade in trades],
        "initial": initial,
        "timestamp": int(time.time() * 1000),
    }


def trade_feed(state: AppState) -> TradeFeed:
    if state.trades is None:
        raise NotReady("this node does not serve trade tapes")
    return state.trades


@router.websocket("/ws/trades/{symbol}")
async def trades_socket(websocket: WebSocket, symbol: str) -> None:
    socket = await open_socket(websocket, symbol)
    if socket is None:
        return
    try:
        await _attach_tape(socket)
    except (MarketcastError, TimeoutError) as error:
        await socket.refuse(error)
        return
    await socket.serve()


async def _attach_tape(socket: OrderfoxSocket) -> None:
    """Hold the symbol's tape, queue the initial window and one window per delivery."""
    feed = trade_feed(socket.state)
    symbol, session = socket.symbol, socket.session
    meta = await symbol_meta(socket.state, symbol)
    session.on_close(await feed.acquire(symbol))
    key = object()  # this client's queued window, replaced by a newer one

    def push(new: Sequence[Trade]) -> None:
        # Every listener of this delivery runs before the tape changes again, so they
        # all read the same window and share its text.
        def encode() -> str:
            window = feed.recent(symbol, TAPE_SIZE)
            return dumps(trades_update(symbol, window, meta, initial=False))

        session.send(_shared.text(new, ("orderfox_trades", symbol), encode), key)

    session.on_close(counted_subscription("trades", feed.watch(symbol, push)))
    initial = feed.recent(symbol, TAPE_SIZE)
    socket.send(trades_update(symbol, initial, meta, initial=True))
