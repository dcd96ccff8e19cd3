"""What every OrderFox REST route shares: the ``/api/v1`` prefix and the error envelope.

Errors on these routes are ``{"detail", "status_code"}`` (FastAPI's shape plus the
status, as OrderFox's frontend reads it), with ``suggestions`` for an unknown symbol.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi.responses import JSONResponse

from marketcast.api.errors import error_details, http_status
from marketcast.errors import MarketcastError

PREFIX: Final = "/api/v1"


def error_body(error: MarketcastError) -> dict[str, Any]:
    """``{"detail", "status_code"}`` plus what a client can act on (``suggestions``)."""
    return {"detail": str(error), "status_code": http_status(error)} | error_details(error)


def error_response(error: MarketcastError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=http_status(error))
