"""What every OrderFox WebSocket (prefix ``/api/v1/ws``) has in common.

Each OrderFox socket lives the same life: accept (token check in
:func:`~marketcast.api.transport.sockets.open_session`), resolve the symbol the client typed to
its exchange id (``btc/usdt`` -> ``BTCUSDT``, which every payload then echoes: OrderFox
frontends drop messages for ids other than the one they asked for), validate the query,
attach to a feed, and serve client messages until either side leaves. Client messages
go through the shared read loop (size and rate limits), ``{"type":"ping"}`` is answered
with ``{"type":"pong"}`` here, anything else by the socket's own handler.

A socket that cannot be served is refused with an ``error`` message (``type``, ``code``,
``message``, ``symbol`` and details such as ``suggestions``) and then a close code;
``symbol`` is the exchange id once resolved, else what the client typed (every
payload echoes the id the client asked for). A bad client message gets the same
``error`` with ``symbol`` and the socket stays open.

======  ==============================================================================
4000    unknown symbol (OrderFox's code)
1008    invalid query (limit, rounding, timeframe, container_width); the close reason
        repeats the message, cut to the 123 bytes a close frame allows
1013    try again later: not ready yet, a capacity cap, a topic or feed that did not
        become ready in time
======  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.websockets import WebSocket

from marketcast.api.errors import CLOSE_UNKNOWN_SYMBOL, error_code, error_details
from marketcast.api.state import AppState, app_state
from marketcast.api.transport.messages import dumps, error_message
from marketcast.api.transport.session import ClientSession
from marketcast.api.transport.sockets import CLOSE_POLICY
from marketcast.errors import InvalidRequest, MarketcastError, UnknownSymbol

CLOSE_TRY_AGAIN = 1013
# RFC 6455 5.5: a control frame's payload is at most 125 bytes, 2 of them the code.
CLOSE_REASON_MAX_BYTES = 123
PONG = '{"type":"pong"}'

Json = dict[str, Any]
OnMessage = Callable[[Json], Awaitable[None]]
"""A socket's handler for client messages other than ping (a JSON object each)."""


def close_code(error: MarketcastError | TimeoutError) -> int:
    """The close code that refuses a socket because of ``error`` (module docstring)."""
    if isinstance(error, UnknownSymbol):
        return CLOSE_UNKNOWN_SYMBOL
    if isinstance(error, InvalidRequest):
        return CLOSE_POLICY
    return CLOSE_TRY_AGAIN


def refusal_message(error: MarketcastError | TimeoutError, symbol: str | None = None) -> str:
    """The ``error`` message for ``error``, echoing ``symbol`` when it is known."""
    echo = {} if not symbol else {"symbol": symbol}
    if isinstance(error, TimeoutError):
        return error_message("not_ready", "not ready in time; retry", **echo)
    return error_message(error_code(error), str(error), **error_details(error), **echo)


def close_reason(text: str) -> str:
    """``text`` cut to fit a close frame (whole characters only)."""
    return text.encode()[:CLOSE_REASON_MAX_BYTES].decode(errors="ignore")


@dataclass(frozen=True, slots=True)
class OrderfoxSocket:
    """An accepted OrderFox socket whose symbol resolved to ``symbol`` (exchange id)."""

    websocket: WebSocket
    state: AppState
    session: ClientSession
    symbol: str

    def send(self, body: Mapping[str, Any]) -> None:
        """Queue ``body`` (encoded here) on the client's bounded buffer; never waits."""
        self.session.send(dumps(body))

    async def refuse(self, error: MarketcastError | TimeoutError) -> None:
        """Detach whatever was attached, send an ``error``, close with :func:`close_code`."""
        code = close_code(error)
        self.session.shutdown(code)  # runs the session's cleanups: bus, feed releases
        await _send_refusal(self.websocket, error, code, self.symbol)

    async def serve(self, on_message: OnMessage | None = None) -> None:
        """Serve until either side leaves; ``on_message`` handles non-ping messages
        (without one, anything but a ping gets an ``error`` reply)."""
        handle = _dispatcher(self.symbol, on_message)
        await self.session.serve(self.state.sockets.reader(self.session, handle))


async def open_socket(websocket: WebSocket, symbol: str | None) -> OrderfoxSocket | None:
    """Accept ``websocket`` and resolve ``symbol``; ``None`` once it has been refused.

    A missing symbol (``/ws/orderbook`` without ``?symbol=``) is an invalid query.
    """
    state = app_state(websocket)
    session = await state.sockets.open(websocket)
    if session is None:
        return None
    try:
        if not symbol:
            raise InvalidRequest("symbol is required (e.g. ?symbol=BTCUSDT)")
        resolved = state.hub.resolve_symbol(symbol)
    except MarketcastError as error:
        await _send_refusal(websocket, error, close_code(error), symbol)
        return None
    return OrderfoxSocket(websocket, state, session, resolved)


async def _send_refusal(
    websocket: WebSocket, error: MarketcastError | TimeoutError, code: int, symbol: str | None
) -> None:
    text = refusal_message(error, symbol)
    try:
        await websocket.send_text(text)
        reason = str(error) if isinstance(error, MarketcastError) else "not ready in time"
        await websocket.close(code, close_reason(reason))
    except (RuntimeError, OSError):
        pass  # the client left first; nothing to tell it


def _dispatcher(
    symbol: str, on_message: OnMessage | None
) -> Callable[[ClientSession, str], Awaitable[None]]:
    async def handle(session: ClientSession, raw: str) -> None:
        # Errors are answered here rather than by the shared read loop so that they
        # carry the socket's symbol like every other payload.
        try:
            await _dispatch(session, raw, on_message)
        except (MarketcastError, TimeoutError) as error:
            session.send(refusal_message(error, symbol))

    return handle


async def _dispatch(session: ClientSession, raw: str, on_message: OnMessage | None) -> None:
    if raw.strip() == "ping":  # some clients send the bare word
        session.send(PONG)
        return
    message = parse_message(raw)
    if message.get("type") == "ping":
        session.send(PONG)
    elif on_message is not None:
        await on_message(message)
    else:
        raise InvalidRequest(f"unknown message type {message.get('type')!r}; send ping")


def parse_message(raw: str) -> Json:
    """A client message as a JSON object, or :class:`InvalidRequest`."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("message is not valid JSON") from None
    if not isinstance(message, dict):
        raise InvalidRequest('a message is a JSON object such as {"type": "ping"}')
    return message
