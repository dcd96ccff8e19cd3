"""Routes of the browser side: ``/`` (the built web app or a how-to-build page),
``/static/*`` (the app's assets) and the ``/inspect`` and ``/inspect-ws`` tools.

The web app is built by ``make ui`` into ``static/`` next to this module, possibly after
the node started, so every request looks at the disk again instead of mounting a
directory once. ``MARKETCAST_WEB_STATIC_DIR`` points elsewhere (a UI built outside the
package, or a test's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from marketcast.web.files import content_type, safe_parts

PACKAGE_DIR: Final = Path(__file__).resolve().parent
DEFAULT_STATIC_DIR: Final = PACKAGE_DIR / "static"
STATIC_DIR_ENV: Final = "MARKETCAST_WEB_STATIC_DIR"
# The build does not fingerprint file names, so a browser must revalidate every time or
# it would keep running yesterday's app.js after a rebuild.
NO_CACHE: Final = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


def static_dir() -> Path:
    """Where the built web app lives; read per request so tests and operators can move it."""
    configured = os.environ.get(STATIC_DIR_ENV)
    return Path(configured) if configured else DEFAULT_STATIC_DIR


def static_file(root: Path, relative: str) -> Path | None:
    """The regular file ``relative`` names inside ``root``, or ``None``.

    ``safe_parts`` already refuses ``..``; resolving and re-checking also refuses
    symlinks that lead out of the directory.
    """
    parts = safe_parts(relative)
    if parts is None:
        return None
    base = root.resolve()
    candidate = base.joinpath(*parts).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


def _page(name: str) -> HTMLResponse:
    # Read per request: a few kilobytes, and editing a page needs no restart.
    return HTMLResponse((PACKAGE_DIR / name).read_text("utf-8"), headers=NO_CACHE)


@router.get("/")
async def get_index() -> Response:
    index = static_file(static_dir(), "index.html")
    if index is None:
        return _page("fallback.html")
    return FileResponse(index, media_type=content_type("index.html"), headers=NO_CACHE)


@router.get("/static/{relative:path}")
async def get_static(relative: str) -> Response:
    found = static_file(static_dir(), relative)
    if found is None:
        raise HTTPException(404, "Not Found")
    return FileResponse(found, media_type=content_type(found.name), headers=NO_CACHE)


@router.get("/inspect")
async def get_inspect() -> Response:
    return _page("inspect.html")


@router.get("/inspect-ws")
async def get_inspect_ws() -> Response:
    return _page("inspect_ws.html")
