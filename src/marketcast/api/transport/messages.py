"""Text messages as every socket sends them: JSON encoding and the ``error`` reply.

Every contract's messages are JSON objects encoded once with orjson; a client message
the hub cannot take (too large, too fast, malformed) is answered with
``{"type": "error", "code", "message", ...details}`` on every route, whatever its contract.
"""

from __future__ import annotations

from typing import Any

import orjson

Json = dict[str, Any]


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def error_message(code: str, message: str, **details: Any) -> str:
    return dumps({"type": "error", "code": code, "message": message, **details})
