"""Routes of the browser side: ``/`` (the built web app or a how-to-build page),
``/static/*`` (the app's assets), ``/docs`` (Swagger UI from those assets, no network
needed) and the ``/inspect`` and ``/inspect-ws`` tools.

Assets are answered to ``GET`` and ``HEAD``, gzipped when the build left a ``.gz`` twin
and the browser accepts it, with an ETag so that a browser revalidating (``no-cache``)
gets a 304 instead of the file again.

The web app is built by ``make ui`` into ``static/`` next to this module, possibly after
the node started, so every request looks at the disk again instead of mounting a
directory once. ``MARKETCAST_WEB_STATIC_DIR`` points elsewhere (a UI built outside the
package, or a test's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from marketcast.web.files import (
    accepts_gzip,
    content_type,
    entity_tag,
    matches_etag,
    safe_parts,
)

PACKAGE_DIR: Final = Path(__file__).resolve().parent
DEFAULT_STATIC_DIR: Final = PACKAGE_DIR / "static"
STATIC_DIR_ENV: Final = "MARKETCAST_WEB_STATIC_DIR"
# The build does not fingerprint file names, so a browser must revalidate every time or
# it would keep running yesterday's app.js after a rebuild; the ETag makes that a 304.
NO_CACHE: Final = {"Cache-Control": "no-cache"}
SWAGGER_BUNDLE: Final = "docs/swagger-ui-bundle.js"
GET_HEAD: Final = ["GET", "HEAD"]

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


def asset(request: Request, found: Path) -> Response:
    """``found`` (or its gzip twin, when the browser takes gzip) with validators; 304
    when the browser already holds this version."""
    served, stat = found, found.stat()
    if accepts_gzip(request.headers.get("accept-encoding")):
        twin = found.with_name(found.name + ".gz")
        twin_stat = _stat_or_none(twin)
        # A twin older than its file is left from an earlier build (``npm run watch``
        # writes none): serving it would hide the rebuilt file.
        if twin_stat is not None and twin_stat.st_mtime_ns >= stat.st_mtime_ns:
            served, stat = twin, twin_stat
    etag = entity_tag(stat.st_mtime_ns, stat.st_size)
    # Caches must keep the two encodings apart.
    headers = NO_CACHE | {"ETag": etag, "Vary": "Accept-Encoding"}
    if matches_etag(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if served is not found:
        headers["Content-Encoding"] = "gzip"
    return FileResponse(
        served, media_type=content_type(found.name), headers=headers, stat_result=stat
    )


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


@router.api_route("/", methods=GET_HEAD)
async def get_index(request: Request) -> Response:
    index = static_file(static_dir(), "index.html")
    if index is None:
        return _page("fallback.html")
    return asset(request, index)


@router.api_route("/static/{relative:path}", methods=GET_HEAD)
async def get_static(request: Request, relative: str) -> Response:
    found = static_file(static_dir(), relative)
    if found is None or found.suffix == ".gz":  # twins are reached through the original
        raise HTTPException(404, "Not Found")
    return asset(request, found)


@router.api_route("/docs", methods=GET_HEAD)
async def get_docs(request: Request) -> Response:
    """Swagger UI over ``/openapi.json``, from the build's own copy of Swagger UI.

    A ``?token=`` is carried to the assets and the API requests the page makes, so the
    page works behind the access token like the rest of the API.
    """
    if static_file(static_dir(), SWAGGER_BUNDLE) is None:
        return _page("docs_missing.html")
    token = request.query_params.get("token")
    # Percent-encoded, the token cannot break out of the attribute or the script string.
    query = f"?token={quote(token, safe='')}" if token else ""
    page = (PACKAGE_DIR / "docs.html").read_text("utf-8").replace("__TOKEN_QUERY__", query)
    return HTMLResponse(page, headers=NO_CACHE)


@router.api_route("/inspect", methods=GET_HEAD)
async def get_inspect() -> Response:
    return _page("inspect.html")


@router.api_route("/inspect-ws", methods=GET_HEAD)
async def get_inspect_ws() -> Response:
    return _page("inspect_ws.html")
