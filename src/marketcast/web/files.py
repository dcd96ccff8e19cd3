"""Which file a ``/static`` request names, and how it is labelled (pure, no I/O).

Kept apart from the routes so the containment rule, the one thing here that guards
security, is checked without a server.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Final

# mimetypes reads the host's tables, which differ between machines (and lack ``.map``);
# the bundler's outputs get fixed answers so a browser never refuses a module script.
_KNOWN_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
}


def safe_parts(relative: str) -> tuple[str, ...] | None:
    """The path segments of ``relative`` below the static root, or ``None`` to refuse.

    Refuses anything that could name a file outside the root: ``..`` segments, absolute
    paths, backslashes (a separator on Windows) and NUL bytes. Empty and ``.`` segments
    are dropped, so ``a//./b.js`` is ``("a", "b.js")``.
    """
    if "\\" in relative or "\x00" in relative:
        return None
    path = PurePosixPath(relative)
    if path.is_absolute():
        return None
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if not parts or ".." in parts:
        return None
    return parts


def content_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    known = _KNOWN_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (``gzip;q=0`` refuses it)."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def entity_tag(mtime_ns: int, size: int) -> str:
    """A strong ETag for one version of a file: its modification time and size.

    A rebuild changes both (or at least the time), which is all a browser needs to know
    whether the copy it holds is still the one served.
    """
    return f'"{mtime_ns:x}-{size:x}"'


def matches_etag(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or ``*``): answer 304 then."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
