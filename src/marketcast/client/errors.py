"""What the client raises, and the one place that decides retry or give up.

::

    ClientError                  everything this package raises
    ├── HubError                 the hub refused a request and retrying would not help
    │   └── AuthenticationError  the token is missing or wrong
    ├── HubUnavailable           the hub kept answering "retry later" past the attempts
    └── OutOfSync                a held copy does not continue (handled inside: resubscribe)

A follower never gives up on a hub that is merely away, restarting or loading: those are
waited out with backoff. It raises only what no wait can fix, so a consumer is never left
looping on a misspelt symbol or a wrong token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

RETRYABLE_CODES: Final = frozenset({"not_ready", "store_unavailable", "error", "internal"})
"""Error codes the hub sends while it loads or its store or exchange is away."""

RATE_LIMITED: Final = "rate_limited"

FATAL_CLOSE_CODES: Final = frozenset({1003, 1008, 1009, 1010, 4000})
"""Closes that say the hub will never take what this client sends (anything else, the
slow-consumer 4008 included, is a reason to reconnect and resume)."""

_RANGE = re.compile(r"\b1\.\.(\d+)\b")


class ClientError(Exception):
    """Base of every error of :mod:`marketcast.client`."""


class HubError(ClientError):
    """A refusal by the hub: ``code`` as in docs/native.md, ``status`` the HTTP status
    (``None`` for a refusal on the socket), ``details`` the rest of the error body
    (``suggestions``, ``valid_intervals``, ...)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.details: dict[str, Any] = dict(details or {})
        where = f"HTTP {status}" if status is not None else "on /ws"
        super().__init__(f"{code} ({where}): {message}")

    @classmethod
    def from_body(cls, body: Mapping[str, Any], status: int | None = None) -> HubError:
        """From a REST error body or a socket ``error`` message."""
        code = str(body.get("code") or ("unauthorized" if status == 401 else "error"))
        message = str(body.get("detail") or body.get("message") or "no detail given")
        known = {"code", "detail", "message", "status_code", "type"}
        details = {key: value for key, value in body.items() if key not in known}
        kind = AuthenticationError if status in (401, 403) else cls
        return kind(code, message, status=status, details=details)


class AuthenticationError(HubError):
    """The hub wants a token, and this client's is missing or wrong."""


class HubUnavailable(ClientError):
    """The hub could not be reached, or asked to retry later, for every attempt."""


class OutOfSync(ClientError):
    """A change that does not continue the held copy: the copy must be loaded again."""


def retryable(code: str) -> bool:
    """Whether a refused subscription is worth sending again after a wait."""
    return code in RETRYABLE_CODES or code == RATE_LIMITED


def fatal_close(code: int | None) -> bool:
    return code in FATAL_CLOSE_CODES


def limit_maximum(error: HubError) -> int | None:
    """The upper bound an ``invalid_limit`` refusal names (``1..300``), if any."""
    if error.code != "invalid_limit":
        return None
    found = _RANGE.search(error.message)
    return int(found.group(1)) if found else None
