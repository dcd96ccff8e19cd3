"""WebSocket text frames as a server sends them (RFC 6455, section 5.2).

A server frame is never masked, so one update's frame is the same bytes for every client
that did not negotiate compression: it is built once and written to each of them.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81  # FIN bit set, opcode 1 (text)
_LENGTH_16 = 126  # the length follows in 2 bytes
_LENGTH_64 = 127  # the length follows in 8 bytes


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame carrying ``payload`` (UTF-8 text)."""
    size = len(payload)
    if size < _LENGTH_16:
        header = bytes((_FIN_TEXT, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, _LENGTH_16, size)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, _LENGTH_64, size)
    return header + payload


class LastFrame:
    """The frame of the last text asked for, kept while the same text object comes back.

    Fan-out hands one text object to every subscriber of an update in a row, so a single
    entry, checked by identity, builds each update's frame once.
    """

    __slots__ = ("_frame", "_text")

    def __init__(self) -> None:
        self._text: str | None = None
        self._frame = b""

    def of(self, text: str) -> bytes:
        if text is not self._text:
            self._frame = text_frame(text.encode())
            self._text = text
        return self._frame
