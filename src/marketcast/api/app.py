"""The ASGI application: routes, error mapping, CORS, access control and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from marketcast.api.errors import http_body, http_status, retry_after_header
from marketcast.api.native import routes as native
from marketcast.api.native.ws import native_ws
from marketcast.api.orderfox import routes as orderfox
from marketcast.api.reference import asyncapi
from marketcast.api.reference.openapi import complete
from marketcast.api.smarttrade import routes as smarttrade
from marketcast.api.state import AppState
from marketcast.api.transport.access import OPEN_PATHS, TokenGate
from marketcast.api.transport.admission import Admission, admission_limits
from marketcast.api.transport.direct import CaptureConnection
from marketcast.api.transport.replay import ReplayCached, Replays
from marketcast.api.transport.sockets import EndSessions
from marketcast.config import Settings
from marketcast.errors import MarketcastError
from marketcast.node import Node
from marketcast.node_market import MarketNode
from marketcast.web import pages


def create_app(
    settings: Settings, *, simulated: bool = False, sim_speed: float | None = None
) -> FastAPI:
    """The node's ASGI app; ``simulated`` when its exchange is the built-in simulator,
    ``sim_speed`` that simulator's clock speed when known (shown in ``/health``)."""
    admission = Admission(admission_limits(settings), 0.0)
    replays = Replays()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Node(settings, simulated=simulated) as node:
            state = AppState(
                settings,
                node.hub,
                node.upstream_health,
                liquidations=node.liquidations,
                admission=admission,
                replays=replays,
                sim_speed=sim_speed if simulated else None,
                **_market_parts(node.default),
            )
            for name, market in node.markets.items():
                if name != settings.market:
                    state.add_market(name, hub=market.hub, **_market_parts(market))
            app.state.marketcast = state
            yield

    # /docs is served by web.pages from the build's own Swagger UI (FastAPI's would load
    # it from a CDN); ReDoc is not offered.
    app = HubApp(
        ReplayCached.front(replays, settings.auth_token, settings.cors_origins),
        # Served by the short path; the native router keeps its /ws route too, so the
        # routing table (and what is checked against it: the AsyncAPI document, the
        # metrics routes) still lists it.
        sockets={"/ws": native_ws},
        title="marketcast",
        description="Gap-free candles, order books, trades and liquidations from Binance. "
        "WebSocket protocols: /asyncapi.json.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    # Read by the server's HTTP protocol, which admits handshakes (transport.server).
    app.state.admission = admission

    open_paths = OPEN_PATHS | ({"/metrics"} if settings.metrics_public else set())
    app.add_middleware(TokenGate, token=settings.auth_token, open_paths=open_paths)
    # The layers outside it (CORS, Starlette's error middleware) pass a WebSocket's
    # ``send`` through untouched: the capture sees uvicorn's own (see transport.direct).
    app.add_middleware(CaptureConnection)
    app.add_middleware(EndSessions)

    # Preflights (which carry no credentials) and 401 answers still get CORS headers a
    # browser page on another origin can read.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET"],
        allow_headers=["*"],
    )

    @app.exception_handler(MarketcastError)
    async def marketcast_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, MarketcastError)
        headers = retry_after_header(error)
        return JSONResponse(http_body(error), status_code=http_status(error), headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        # Unknown routes and wrong methods too: OrderFox clients read ``status_code``.
        assert isinstance(error, StarletteHTTPException)
        body = {"detail": error.detail, "status_code": error.status_code}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> Response:
        body = {"detail": "internal error", "status_code": 500, "code": "internal"}
        return JSONResponse(body, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return JSONResponse({"detail": detail, "status_code": 400}, status_code=400)

    @app.exception_handler(TimeoutError)
    async def not_ready(request: Request, error: Exception) -> Response:
        body = {"detail": "topic did not become ready in time; retry", "status_code": 504}
        return JSONResponse(body, status_code=504)

    app.include_router(native.router)
    app.include_router(asyncapi.router)
    app.include_router(smarttrade.router)
    app.include_router(orderfox.router)
    app.include_router(pages.router)
    _complete_openapi(app, settings)
    return app


SocketEndpoint = Callable[[WebSocket], Awaitable[None]]


class HubApp(FastAPI):
    """FastAPI behind two short paths.

    A repeated chart load is answered by the replay layer before FastAPI's own layers
    (error middleware, telemetry hooks, body limits) and before the app's middleware (see
    ``transport.replay``). A WebSocket to one of ``sockets`` (the native ``/ws``, which
    holds most of a node's connections) goes straight to its endpoint with only the two
    layers a socket needs: the capture of uvicorn's protocol (direct frame writes) and the
    end of its sessions. FastAPI's route would keep two exit stacks, exception wrappers
    and their closures alive for as long as the socket is open: about 12 KB of a
    connection's ~54 KB (``bench/connection_memory.py``). The layers it skips do nothing
    for an open socket: the token gate and CORS act on HTTP only (a socket's origin and
    token are checked when it opens), and the route has no dependencies to solve.
    Everything else goes through all of FastAPI.
    """

    def __init__(
        self,
        front: Callable[[ASGIApp], ASGIApp],
        *,
        sockets: Mapping[str, SocketEndpoint],
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._front = front(super().__call__)
        self._sockets = {
            path: EndSessions(CaptureConnection(_socket_app(path, endpoint)))
            for path, endpoint in sockets.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (direct := self._sockets.get(scope["path"])):
            scope["app"] = self  # what Starlette sets: endpoints find the node's state there
            await direct(scope, receive, send)
            return
        await self._front(scope, receive, send)


def _socket_app(path: str, endpoint: SocketEndpoint) -> ASGIApp:
    # The route a router would have matched: sockets are counted by its path (metrics).
    route = WebSocketRoute(path, endpoint)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route
        await endpoint(WebSocket(scope, receive, send))

    return app


def _market_parts(market: MarketNode) -> dict[str, Any]:
    feeds = market.feeds
    return {
        "symbols": market.symbols,
        "indicators": market.indicators,
        "books": feeds.books if feeds else None,
        "trades": feeds.trades if feeds else None,
        "history": market.history,
    }


def _complete_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve ``/openapi.json`` completed by :mod:`marketcast.api.reference.openapi`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
