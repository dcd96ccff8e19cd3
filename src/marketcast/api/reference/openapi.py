"""``/openapi.json`` completed with what FastAPI cannot see from the route functions.

Routes read their query parameters themselves (to answer the documented error codes), so
the document is finished here: the plain ``/candles`` route, the error answers each
route can give (with their body), and ``limit`` maxima from this node's settings.
FastAPI's 422 is dropped: a bad parameter is answered 400.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Final

from marketcast.api.native.rest import CANDLES_OPENAPI
from marketcast.api.transport.access import OPEN_PATHS
from marketcast.config import Settings

ERROR: Final[dict[str, Any]] = {
    "type": "object",
    "description": "Every error of the HTTP routes (OrderFox's envelope, plus a code).",
    "properties": {
        "detail": {"type": "string", "description": "what went wrong, for people"},
        "status_code": {"type": "integer"},
        "code": {"type": "string", "description": "for programs: unknown_symbol, ..."},
        "suggestions": {"type": "array", "items": {"type": "string"}},
        "valid_intervals": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["detail", "status_code"],
}
_WHY: Final = {
    "400": "a parameter out of its bounds or not one of the allowed values",
    "401": "the access token is missing or wrong",
    "404": "the exchange does not list the symbol (suggestions name close ones)",
    "429": "the node's cap on on-demand topics or feeds is reached",
    "503": "not ready yet, or the exchange or store is failing: retry (code says which)",
    "504": "the topic did not become ready in time: retry",
}
_NO_DATA: Final = frozenset({"/health", "/ready", "/metrics"})
_TIME_CODE: Final = re.compile(r"{(interval|timeframe)}")


def limit_maxima(settings: Settings) -> dict[str, int]:
    """The largest ``limit`` each route takes, by path prefix."""
    return {
        "/candles/": settings.buffer_size,
        "/indicators/": settings.buffer_size,
        "/api/v1/candles/": settings.buffer_size,
        "/orderbook/": settings.max_orderbook_limit,
        "/api/v1/orderbook/": settings.max_orderbook_limit,
        "/trades/": settings.trade_history,
        "/liquidations/": settings.liquidation_history,
    }


def error_statuses(path: str, has_query: bool, settings: Settings) -> list[str]:
    """The error statuses ``path`` can answer on this node."""
    statuses = []
    open_paths = OPEN_PATHS | ({"/metrics"} if settings.metrics_public else set())
    if has_query or _TIME_CODE.search(path):
        statuses.append("400")
    if settings.auth_token is not None and path not in open_paths:
        statuses.append("401")
    if "{symbol}" in path:
        statuses += ["404", "429"]
    if path not in _NO_DATA:
        statuses.append("503")
    if "{symbol}" in path:
        statuses.append("504")
    return statuses


def complete(generated: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """FastAPI's document for this node, with what the module docstring lists added."""
    # A copy: the parameter lists are shared with the routes' definitions (and with every
    # app built in this process), and the limits below depend on this node's settings.
    document = copy.deepcopy(generated)
    paths = document["paths"]
    paths["/candles/{symbol}/{interval}"] = copy.deepcopy(CANDLES_OPENAPI)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    maxima = limit_maxima(settings)
    for path, item in paths.items():
        for operation in item.values():
            parameters = operation.get("parameters", [])
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            has_query = any(p["in"] == "query" for p in parameters)
            for status in error_statuses(path, has_query, settings):
                responses[status] = {"description": _WHY[status], "content": error_body}
            for parameter in parameters:
                if parameter["name"] == "limit":
                    _bound_limit(parameter, path, maxima)
    paths["/ready"]["get"]["responses"]["503"] = {
        "description": "not ready yet: the same body, with the bootstrap progress",
        "content": {"application/json": {}},
    }
    return document


def _bound_limit(parameter: dict[str, Any], path: str, maxima: dict[str, int]) -> None:
    for prefix, maximum in maxima.items():
        if path.startswith(prefix):
            parameter["schema"]["maximum"] = maximum
            return
