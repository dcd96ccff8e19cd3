"""Answering a repeated GET from bytes a route already encoded, ahead of the ASGI stack.

A chart's history load (``/candles``, newest N) is the hub's busiest REST request, and
the same few shapes repeat across clients: the route encodes each answer once per store
revision. Yet every request still crossed the whole stack before reaching that cached
body: CORS, the token gate, Starlette's error and exception layers, route lookup, the
handler's validation. For a small body that was most of the work (``bench/rest.py``).

:class:`Replays` remembers, per exact path and query string, how to find the current body
of an answer a route already gave; :class:`ReplayCached`, the outermost layer, answers
from it when that body is still current and passes the request on otherwise. So every
rule keeps one home, the route: a request is replayed only if the route answered the
same request before, and only while the route would answer it with the same bytes. What
the layer itself must repeat is what sits outside the route: the token gate (a bearer
header only; a query token goes the long way) and CORS's headers on a simple request,
held to Starlette's by the tests. It sits in front of FastAPI itself (``api.app.HubApp``):
FastAPI's own layers (error middleware, telemetry hooks, body limits) cost as much again
as the app's.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

Current = Callable[[], bytes | None]
"""The body the route would answer now, or ``None`` when it would not be the same bytes."""

MAX_ENTRIES: Final = 4096
"""Distinct requests remembered; the oldest is forgotten first. Charts repeat a few shapes
per topic, so this holds every topic's at any realistic count of topics."""

_JSON: Final = b"application/json"


class Replays:
    """Requests a route answered with a body it keeps current, by path and query string."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._entries: dict[tuple[str, bytes], Current] = {}
        self.hits = 0

    def remember(self, scope: Scope, current: Current) -> None:
        """Replay the request of ``scope`` from ``current`` from now on."""
        key = (scope["path"], scope["query_string"])
        entries = self._entries
        if key not in entries and len(entries) >= self._max:
            del entries[next(iter(entries))]
        entries[key] = current

    def body(self, scope: Scope) -> bytes | None:
        current = self._entries.get((scope["path"], scope["query_string"]))
        body = None if current is None else current()
        if body is not None:
            self.hits += 1
        return body

    def __len__(self) -> int:
        return len(self._entries)


class ReplayCached:
    """ASGI middleware: answer a remembered GET with its current body, or pass it on.

    ``token`` and ``cors_origins`` are the node's own settings: a request without the
    bearer token goes on to the gate (which may still admit a query token), and a
    response carries the headers Starlette's CORS layer would add to a simple request.
    """

    def __init__(
        self, app: ASGIApp, replays: Replays, token: str | None, cors_origins: Sequence[str]
    ) -> None:
        self.app = app
        self._replays = replays
        # The gate reads headers as Latin-1 and compares UTF-8: byte for byte the same
        # only for an ASCII token, so another token always goes the long way.
        self._token = None if token is None else token.encode()
        self._replaying = token is None or token.isascii()
        self._allow_all = "*" in cors_origins
        self._origins = frozenset(cors_origins)

    @classmethod
    def front(
        cls, replays: Replays, token: str | None, cors_origins: Sequence[str]
    ) -> Callable[[ASGIApp], ASGIApp]:
        """This layer in front of any app, configured for a node."""
        return lambda app: cls(app, replays, token, cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and self._replaying:
            authorization, origin = _headers(scope["headers"])
            if self._authorized(authorization) and (body := self._replays.body(scope)):
                headers = [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", _JSON),
                    *self._cors(origin),
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _authorized(self, authorization: bytes | None) -> bool:
        """The gate's rule for a bearer header (``access.presented_token``)."""
        if self._token is None:
            return True
        if authorization is None or authorization[:7].lower() != b"bearer ":
            return False
        return hmac.compare_digest(authorization[7:].strip(), self._token)

    def _cors(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """What Starlette's ``CORSMiddleware`` adds to a response that is not a preflight's
        (no credentials, nothing exposed): the origin allowed, then ``Vary: Origin``, which
        goes on every such response, with an ``Origin`` or without."""
        vary = (b"vary", b"Origin")
        if origin is None:
            return [vary]
        if self._allow_all:
            return [(b"access-control-allow-origin", b"*"), vary]
        if origin.decode("latin-1") in self._origins:
            return [(b"access-control-allow-origin", origin), vary]
        return [vary]


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None]:
    """The request's ``Authorization`` and ``Origin``, the first of each (ASGI header
    names are lower-case)."""
    authorization = origin = None
    for name, value in raw:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"origin" and origin is None:
            origin = value
    return authorization, origin
