"""Optional bearer-token access control for REST and WebSockets."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection

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
