"""Who may connect: the optional bearer token, and the origins a browser may connect from.

A token is presented in one of three ways, checked in this order:

1. ``Authorization: Bearer <token>`` (REST and any non-browser WebSocket client);
2. on a WebSocket handshake, the subprotocols ``marketcast`` and
   ``marketcast.token.<token>`` (``new WebSocket(url, ["marketcast",
   "marketcast.token." + token])``: browsers cannot set headers on a handshake, and a
   subprotocol does not travel in the URL, so no access log can record it; the
   server answers with ``marketcast``);
3. ``?token=<token>`` (kept for existing clients; log lines never show its value).

WebSocket handshakes from a browser carry an ``Origin``; it must be in the same
allow-list as CORS (``*`` allows any). Handshakes without one (non-browser clients)
are not refused for it.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Final

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS: Final = frozenset({"/health", "/ready"})
SUBPROTOCOL: Final = "marketcast"
TOKEN_SUBPROTOCOL_PREFIX: Final = "marketcast.token."


def offered_subprotocols(connection: HTTPConnection) -> list[str]:
    offered = connection.scope.get("subprotocols")
    if offered is not None:
        return list(offered)
    header = connection.headers.get("sec-websocket-protocol", "")
    return [part.strip() for part in header.split(",") if part.strip()]


def presented_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    for offered in offered_subprotocols(connection):
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return offered[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return connection.query_params.get("token")


def is_allowed(
    connection: HTTPConnection, required: str | None, open_paths: frozenset[str] = OPEN_PATHS
) -> bool:
    if required is None or connection.url.path in open_paths:
        return True
    given = presented_token(connection)
    return given is not None and hmac.compare_digest(given.encode(), required.encode())


def chosen_subprotocol(connection: HTTPConnection) -> str | None:
    """``marketcast`` when the client offered it (a browser fails a handshake whose answer
    names none of the offered subprotocols), else none."""
    return SUBPROTOCOL if SUBPROTOCOL in offered_subprotocols(connection) else None


def origin_allowed(origin: str | None, allowed: Sequence[str]) -> bool:
    """Whether a handshake's ``Origin`` passes the CORS allow-list.

    No origin is a non-browser client: the header protects browsers' users from pages of
    other sites, and any other client could send whatever origin it likes.
    """
    if origin is None or "*" in allowed:
        return True
    given = origin.strip().rstrip("/").lower()
    return any(given == entry.strip().rstrip("/").lower() for entry in allowed)


class TokenGate:
    """Answers 401 to an HTTP request without the token (when one is configured).

    A plain ASGI layer rather than ``@app.middleware("http")``, which runs every request
    through an extra task and memory streams (``bench/rest.py``: p99 of a cached
    ``/candles`` at 64 connections 92 -> 50 ms). WebSocket handshakes are checked by
    :class:`~marketcast.api.transport.sockets.Sockets`, which refuses them with 403.
    """

    def __init__(
        self, app: ASGIApp, token: str | None, open_paths: frozenset[str] = OPEN_PATHS
    ) -> None:
        self.app = app
        self.token = token
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.token is not None
            and scope["type"] == "http"
            and not is_allowed(HTTPConnection(scope), self.token, self.open_paths)
        ):
            body = {"detail": "missing or invalid token", "status_code": 401}
            await JSONResponse(body, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)
