"""Plumbing shared by every WebSocket endpoint: accept, read loop, error replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.websockets import WebSocket

from marketcast.api.access import is_allowed
from marketcast.api.batching import BatchWindow
from marketcast.api.errors import error_code, error_details
from marketcast.api.formats import error_message
from marketcast.api.ratelimit import TokenBucket
from marketcast.api.session import ClientSession
from marketcast.api.state import AppState, app_state
from marketcast.errors import MarketcastError

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008

MessageHandler = Callable[[ClientSession, str], Awaitable[None]]


MAX_BATCH_MS = 1000


async def open_session(
    websocket: WebSocket, *, batching: bool = False
) -> tuple[AppState, ClientSession] | None:
    """Accept the socket (or refuse it with 1008 if unauthorised) and wrap it.

    With ``batching`` the client may ask for batched frames with ``?batch_ms=N``; a value
    that is not an integer in 0..1000 is accepted and closed at once with 1008 and the
    reason (a refused handshake could not say why).
    """
    state = app_state(websocket)
    if not is_allowed(websocket, state.settings.auth_token):
        await websocket.close(CLOSE_POLICY, "missing or invalid token")
        return None
    batch: BatchWindow | None = None
    await websocket.accept()
    if batching and (given := websocket.query_params.get("batch_ms")) is not None:
        if not (given.isascii() and given.isdigit() and int(given) <= MAX_BATCH_MS):
            await websocket.close(CLOSE_POLICY, f"batch_ms must be an integer 0..{MAX_BATCH_MS}")
            return None
        window_ms = int(given)
        batch = state.batch_windows.get(window_ms)
        if batch is None:
            batch = state.batch_windows[window_ms] = BatchWindow(window_ms / 1000)
    return state, ClientSession(
        websocket,
        state.settings.client_queue_limit,
        state.settings.client_send_timeout_s,
        batch=batch,
    )


def send_error(session: ClientSession, error: MarketcastError, **extra: object) -> None:
    session.send(error_message(error_code(error), str(error), **error_details(error), **extra))


def reader(
    session: ClientSession, state: AppState, handle: MessageHandler
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A read loop that rate-limits and size-limits client messages and never dies of one.

    A bad message gets an ``error`` reply and the connection stays up (SPEC 1.5).
    """
    settings = state.settings
    bucket = TokenBucket(
        settings.max_client_messages_per_s, settings.max_client_messages_per_s * 2, time.monotonic()
    )

    async def loop() -> None:
        while True:
            message = await session.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                data = message.get("bytes") or b""
                raw = data.decode(errors="replace")
            if len(raw) > settings.max_ws_message_bytes:
                session.send(error_message("too_large", "message too large"))
            elif not bucket.take(time.monotonic()):
                session.send(error_message("rate_limited", "too many messages; slow down"))
            else:
                try:
                    await handle(session, raw)
                except MarketcastError as error:
                    send_error(session, error)
                except TimeoutError:
                    session.send(error_message("not_ready", "topic did not become ready in time"))
                except Exception:
                    # A bug handling one message must not cost the client its connection.
                    log.exception("handling a client message failed", extra={"conn": session.id})
                    session.send(error_message("internal", "internal error; please retry"))

    return loop
