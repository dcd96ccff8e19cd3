"""Structured logging: one line per event, ``key=value`` pairs after the message.

No line carries a credential: token query parameters, bearer headers, token
subprotocols and the configured secrets themselves are replaced by ``***`` in the whole
line (message, extras, exception text), whichever logger wrote it (uvicorn's access and
WebSocket lines included).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from typing import IO, Final

REDACTED: Final = "***"
# ?token=..., &access_token=..., "Bearer ...", marketcast.token.<...> (a subprotocol).
_CREDENTIALS: Final = re.compile(
    r"(?i)(?P<key>[?&;](?:token|access_token|auth_token|api_key|key|password)=)[^&\s\"'#]+"
    r"|(?P<bearer>bearer\s+)[^\s\"',]+"
    r"|(?P<proto>marketcast\.token\.)[^\s\"',]+"
)


def redact(line: str, secrets: Iterable[str] = ()) -> str:
    """``line`` with every credential it shows replaced by ``***``."""
    line = _CREDENTIALS.sub(
        lambda m: (m.group("key") or m.group("bearer") or m.group("proto")) + REDACTED, line
    )
    for secret in secrets:
        if secret:
            line = line.replace(secret, REDACTED)
    return line


# Attributes every record has, plus uvicorn's ANSI-coloured duplicate of its message.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class LineFormatter(logging.Formatter):
    """``2026-11-21T12:00:00.123Z INFO marketcast.hub message topic=BTCUSDT:1m``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._line(record), self.secrets)

    def _line(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        extras = " ".join(
            f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD
        )
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {record.name} "
        line += record.getMessage() + (f" {extras}" if extras else "")
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        return line


class ConnectionLines(logging.Filter):
    """Keeps uvicorn's line per WebSocket handshake (an access log) for DEBUG only: under a
    flood of handshakes it would be thousands of lines a second."""

    def filter(self, record: logging.LogRecord) -> bool:
        is_access = isinstance(record.msg, str) and record.msg.startswith('%s - "WebSocket')
        return not is_access or logging.getLogger().level <= logging.DEBUG


class JsonFormatter(LineFormatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``message``, the extras,
    and ``exception`` when there is one; redacted as the text lines are."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(body, default=str), self.secrets)


def configure(
    level: str,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
    *,
    as_json: bool = False,
) -> None:
    """Log to ``stream`` (stderr) at ``level``, never showing ``secrets``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets) if as_json else LineFormatter(secrets))
    handler.addFilter(ConnectionLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs for every chart poll would drown the events that matter.
    for chatty in ("uvicorn.access", "httpx", "httpcore", "websockets"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
