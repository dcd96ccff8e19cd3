"""The ceiling for ``/candles``: a Starlette endpoint answering with fixed, prebuilt bytes.

Served by uvicorn with the hub's own settings (same HTTP implementation, same event loop
policy), so the only difference measured is what the hub does per request.

    python bench/prebuilt_server.py PORT PATH BODY_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def app_for(path: str, body: bytes) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(path, endpoint)])


if __name__ == "__main__":
    port, path, body_file = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    uvicorn.run(
        app_for(path, body_file.read_bytes()),
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
    )
