"""Optional bearer-token access control for REST and WebSockets."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health", "/ready"})


def presented_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    # Browsers cannot set headers on a WebSocket handshake, so a query token is accepted.
    return connection.query_params.get("token")


def is_allowed(connection: HTTPConnection, required: str | None) -> bool:
    if required is None or connection.url.path in OPEN_PATHS:
        return True
    given = presented_token(connection)
    return given is not None and hmac.compare_digest(given.encode(), required.encode())


class TokenGate:
    """Answers 401 to an HTTP request without the token (when one is configured).

    A plain ASGI layer rather than ``@app.middleware("http")``, which runs every request
    through an extra task and memory streams (``bench/rest.py``: p99 of a cached
    ``/candles`` at 64 connections 92 -> 50 ms). WebSocket handshakes are checked by their
    routes, which close with a code instead.
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.token is not None
            and scope["type"] == "http"
            and not is_allowed(HTTPConnection(scope), self.token)
        ):
            body = {"detail": "missing or invalid token", "status_code": 401}
            await JSONResponse(body, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)
