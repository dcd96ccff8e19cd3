"""Small builders for the JSON Schemas of the AsyncAPI document (``/asyncapi.json``).

Schemas are plain dicts in the JSON Schema dialect AsyncAPI payloads use (draft-07
keywords only). Objects are closed by default: a field the server sends but the
document does not name fails the test that validates captured messages
(``tests/api/reference/test_asyncapi.py``), so the document cannot silently fall behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

Schema = dict[str, Any]

NUMBER: Final[Schema] = {"type": "number"}
INTEGER: Final[Schema] = {"type": "integer"}
STRING: Final[Schema] = {"type": "string"}
BOOLEAN: Final[Schema] = {"type": "boolean"}
STRINGS: Final[Schema] = {"type": "array", "items": STRING}


def const(value: object) -> Schema:
    return {"const": value}


def one_of_values(values: Iterable[object]) -> Schema:
    return {"enum": list(values)}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def described(schema: Schema, description: str) -> Schema:
    return schema | {"description": description}


def obj(
    required: Mapping[str, Schema],
    optional: Mapping[str, Schema] | None = None,
    *,
    open_ended: bool = False,
) -> Schema:
    """An object with ``required`` and ``optional`` properties; closed unless
    ``open_ended`` (for bodies another document owns, such as the symbol service's)."""
    schema: Schema = {
        "type": "object",
        "properties": dict(required) | dict(optional or {}),
        "required": list(required),
    }
    if not open_ended:
        schema["additionalProperties"] = False
    return schema


def numbers(*names: str) -> dict[str, Schema]:
    return dict.fromkeys(names, NUMBER)


def strings(*names: str) -> dict[str, Schema]:
    return dict.fromkeys(names, STRING)


def message(name: str, summary: str, payload: Schema) -> Schema:
    """An AsyncAPI message object carrying one JSON payload."""
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload,
    }


class ChannelSpec:
    """One WebSocket route of a contract as the AsyncAPI document describes it.

    Args:
        key: the channel's id in the document (``native``, ``orderfoxBook``, ...).
        address: the route template, as ``/metrics`` labels it (``/ws/candles/{symbol}``).
        description: what a client does with it.
        sends: the messages the hub sends on it, by message id.
        receives: the messages the hub takes from clients, by message id.
        query: the query parameters of the handshake, by name, with their schemas.
    """

    def __init__(
        self,
        key: str,
        address: str,
        description: str,
        *,
        sends: Mapping[str, Schema],
        receives: Mapping[str, Schema],
        query: Mapping[str, Schema] | None = None,
    ) -> None:
        self.key = key
        self.address = address
        self.description = description
        self.sends = dict(sends)
        self.receives = dict(receives)
        self.query = dict(query or {})


# The keep-alive of the SmartTrade and OrderFox sockets: text or JSON in, JSON out.
PING: Final = message(
    "ping",
    'The text ping, or {"type": "ping"}.',
    {"anyOf": [const("ping"), obj({"type": const("ping")})]},
)
PONG: Final = message("pong", "Answer to a ping.", obj({"type": const("pong")}))
