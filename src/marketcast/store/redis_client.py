"""Connecting to Redis the way every marketcast store does, and naming its failures.

The candle store and the liquidation store share one policy: connect lazily, reconnect
quickly after a restart but never repeat a command that timed out (a hung Redis must
fail fast, not after several full timeouts), and report Redis being away as
:class:`~marketcast.errors.StoreUnavailable` with the URL's password masked.

Redis being away is an outage, not a bug: it is logged once when the first command fails
and once when one succeeds again, with how long it lasted, however many callers met it
(callers log it at debug level at most).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from marketcast.errors import StoreUnavailable
from marketcast.metrics import STORE_ERRORS, STORE_OPERATION
from marketcast.outages import OutageLog

BLOCKING_READ = "read_changes"


def connect(url: str, *, timeout_s: float, socket_timeout: float | None, name: str) -> Redis:
    """A client for ``url`` (it connects on first use); ``None`` waits without limit."""
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=socket_timeout,
        socket_connect_timeout=min(timeout_s, 2.0),
        health_check_interval=10,
        retry=Retry(
            ExponentialWithJitterBackoff(cap=0.25, base=0.02),
            retries=2,
            supported_errors=(redis_errors.ConnectionError,),
        ),
        retry_on_timeout=False,
        client_name=name,
    )


@functools.cache
def lua(name: str) -> str:
    """The Lua script ``store/lua/<name>.lua``."""
    return (resources.files("marketcast.store") / "lua" / f"{name}.lua").read_text()


_outages: dict[str, OutageLog] = {}


def outage_log(url: str) -> OutageLog:
    """The outage log of the Redis at ``url``, shared by every store using it: one outage
    of one server is one pair of lines."""
    log_ = _outages.get(url)
    if log_ is None:
        log_ = _outages[url] = OutageLog(f"redis at {redact_url(url)}")
    return log_


@contextlib.contextmanager
def unavailable_on(
    errors: tuple[type[BaseException], ...], outage: OutageLog, operation: str
) -> Iterator[None]:
    """Turn ``errors`` raised in the block into ``StoreUnavailable``; keep ``outage``.

    The block is timed as one store ``operation`` for ``/metrics``, except the change
    feed's blocking read (``read_changes``), whose time is mostly waiting by design.
    """
    started = time.perf_counter()
    try:
        yield
    except errors as error:
        STORE_ERRORS.labels("redis", operation).inc()
        reason = str(error) or type(error).__name__
        outage.failed(reason)
        raise StoreUnavailable(f"{outage.what} unavailable: {reason}") from error
    finally:
        if operation != BLOCKING_READ:
            STORE_OPERATION.labels("redis", operation).observe(time.perf_counter() - started)
    outage.succeeded()


def redact_url(url: str) -> str:
    """``url`` with any password masked, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None and "password" not in parts.query:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}", query=""))
