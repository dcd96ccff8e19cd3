"""``GET /asyncapi.json``: every WebSocket protocol of the hub as an AsyncAPI 3 document.

Each contract describes its own sockets (``api/native/asyncapi.py``, ``api/smarttrade/...``,
``api/orderfox/...``); this module assembles them, as ``api/app.py`` assembles the routes.
``tests/api/reference/test_asyncapi.py`` validates messages captured from real sessions against it.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.native.asyncapi import NATIVE
from marketcast.api.orderfox import asyncapi as orderfox
from marketcast.api.schemas import ChannelSpec, Schema
from marketcast.api.smarttrade import asyncapi as smarttrade

SOCKETS: Final[tuple[ChannelSpec, ...]] = (NATIVE, *smarttrade.SOCKETS, *orderfox.SOCKETS)
_PLACEHOLDER: Final = re.compile(r"{(\w+)}")
_PARAMETERS: Final = {
    "symbol": "an exchange symbol, e.g. BTCUSDT (unknown ones are refused with suggestions)",
    "timeframe": "a kline interval code: 1m, 5m, ... 1M",
}

router = APIRouter()


def _version() -> str:
    try:
        return version("marketcast")
    except PackageNotFoundError:  # run from a source tree without installing
        return "0.0.0"


def _channel(spec: ChannelSpec) -> Schema:
    messages = spec.sends | spec.receives
    channel: Schema = {
        "address": spec.address,
        "description": spec.description,
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
    }
    names = _PLACEHOLDER.findall(spec.address)
    if names:
        channel["parameters"] = {name: {"description": _PARAMETERS[name]} for name in names}
    if spec.query:
        query = {"type": "object", "properties": spec.query}
        channel["bindings"] = {"ws": {"query": query, "bindingVersion": "0.1.0"}}
    return channel


def _operations(spec: ChannelSpec) -> dict[str, Schema]:
    operations: dict[str, Schema] = {}
    for action, messages in (("send", spec.sends), ("receive", spec.receives)):
        if messages:
            operations[f"{spec.key}{action.title()}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{spec.key}"},
                "messages": [{"$ref": f"#/channels/{spec.key}/messages/{key}"} for key in messages],
            }
    return operations


def asyncapi_document(host: str) -> dict[str, Any]:
    """The document, with ``host`` (``name:port``) as the server clients connect to."""
    components: dict[str, Schema] = {}
    operations: dict[str, Schema] = {}
    for spec in SOCKETS:
        components |= spec.sends | spec.receives
        operations |= _operations(spec)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "marketcast WebSockets",
            "version": _version(),
            "description": "The hub's WebSocket protocols: the native multiplexed /ws and "
            "the SmartTrade and OrderFox compatibility sockets. Operations are the hub's: "
            "'send' is what it sends to clients, 'receive' what it takes from them. The "
            "HTTP routes are in /openapi.json; prose in the repository's docs/.",
        },
        "defaultContentType": "application/json",
        "servers": {"hub": {"host": host, "protocol": "ws"}},
        "channels": {spec.key: _channel(spec) for spec in SOCKETS},
        "operations": operations,
        "components": {"messages": components},
    }


@router.get("/asyncapi.json", include_in_schema=False)
async def get_asyncapi(request: Request) -> Response:
    return JSONResponse(asyncapi_document(request.url.netloc or "localhost:8000"))
