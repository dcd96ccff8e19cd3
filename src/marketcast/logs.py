"""Structured logging: one line per event, ``key=value`` pairs after the message."""

from __future__ import annotations

import logging
import time
from typing import Final

# Attributes every record has, plus uvicorn's ANSI-coloured duplicate of its message.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class LineFormatter(logging.Formatter):
    """``2026-11-21T12:00:00.123Z INFO marketcast.hub message topic=BTCUSDT:1m``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        extras = " ".join(
            f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD
        )
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {record.name} "
        line += record.getMessage() + (f" {extras}" if extras else "")
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        return line


def configure(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs for every chart poll would drown the events that matter.
    for chatty in ("uvicorn.access", "httpx", "httpcore", "websockets"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
