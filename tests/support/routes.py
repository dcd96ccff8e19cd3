"""The route templates an app serves, read from its routing table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import WebSocketRoute


def websocket_paths(routes: Iterable[Any], prefix: str = "") -> Iterator[str]:
    """Every WebSocket route's path template. FastAPI keeps an included router as one
    entry (``original_router``, under its ``include_context.prefix``): walk into it."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from websocket_paths(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, WebSocketRoute):
            yield prefix + route.path
