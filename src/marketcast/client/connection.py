"""One subscription on its own ``/ws`` socket, kept alive across anything that can pass.

:func:`follow` connects, sends the channel's subscribe message, folds every message into
the channel and yields what it returns. When the socket goes (the hub restarts, a proxy
cuts it, the hub closes a slow consumer with 4008, the network drops) it reconnects after
a backoff and subscribes again from what the channel holds, so nothing is missed. It
raises only what waiting cannot fix: a wrong token, an unknown symbol, a bad parameter.

A socket per subscription keeps streams independent: one consumer falling behind is
closed and resumed on its own, and refusals on the socket (which name no subscription)
can only mean this one. Keepalive is the websockets library's own ping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from websockets.asyncio import client as ws_client
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from marketcast.client.backoff import Backoff
from marketcast.client.channels import Channel
from marketcast.client.errors import (
    AuthenticationError,
    HubError,
    OutOfSync,
    fatal_close,
    retryable,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

USER_AGENT = "marketcast-client"


@dataclass(frozen=True)
class Endpoint:
    """Where and how to open a socket.

    ``open_timeout`` is generous: a busy hub may take a while to answer a handshake, and a
    timeout only costs a retry. ``max_size`` is unbounded because the hub decides how
    large a snapshot is (a buffer of candles, a thousand book levels per side).
    """

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    open_timeout: float = 30.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0

    def connect(self) -> ws_client.connect:
        return ws_client.connect(
            self.url,
            additional_headers=self.headers,
            user_agent_header=USER_AGENT,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_size=None,
        )


@dataclass
class Link:
    """A stream's socket as it fares: for logs, health checks and tests, and for closing
    the stream from another task than the one reading it."""

    connects: int = 0
    last_close_code: int | None = None
    last_error: str | None = None
    socket: ClientConnection | None = field(default=None, repr=False)
    closing: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    async def close(self) -> None:
        """End the stream: the reader's next step ends the iteration, even mid-wait."""
        self.closing.set()
        if self.socket is not None:
            await self.socket.close()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the stream is closed meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.closing.wait()


async def follow(
    endpoint: Endpoint,
    channel: Channel[T],
    link: Link,
    backoff: Backoff | None = None,
) -> AsyncGenerator[T, None]:
    """Yield the channel's events until ``link`` is closed; see the module docstring."""
    backoff = backoff or Backoff()
    while not link.closing.is_set():
        hold_off = 0.0
        try:
            async with endpoint.connect() as socket:
                link.socket = socket
                link.connects += 1
                async with contextlib.aclosing(_serve(socket, channel, link, backoff)) as events:
                    async for event in events:
                        yield event
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            link.last_close_code, link.last_error = code, str(closed)
            if fatal_close(code) and not link.closing.is_set():
                reason = closed.rcvd.reason if closed.rcvd is not None else ""
                raise HubError("closed", f"the hub closed the socket: {code} {reason}") from None
        except InvalidStatus as refused:
            link.last_error = str(refused)
            hold_off = _handshake_retry(refused)
        except (OSError, TimeoutError, InvalidHandshake) as failed:
            link.last_error = f"{type(failed).__name__}: {failed}"
        finally:
            link.socket = None
            channel.disconnected()
        if not link.closing.is_set():
            delay = max(hold_off, backoff.next_delay())
            # Said, not silent: a program (or `marketcast tail`) waiting on a hub that is
            # away shows why and for how long, through the logging it configured.
            log.warning("%s: %s; connecting again in %.1f s", endpoint.url, link.last_error, delay)
            await link.pause(delay)


async def _serve(
    socket: ClientConnection, channel: Channel[T], link: Link, backoff: Backoff
) -> AsyncGenerator[T, None]:
    """One socket's life: subscribe, then fold messages until the socket closes."""
    await socket.send(orjson.dumps(channel.subscription()).decode())
    while True:
        for message in _messages(await socket.recv()):
            if message.get("type") == "error":
                await _after_refusal(HubError.from_body(message), channel, link, backoff)
                await socket.send(orjson.dumps(channel.subscription()).decode())
                continue
            try:
                events = channel.receive(message)
            except OutOfSync:
                await socket.send(orjson.dumps(channel.subscription()).decode())
                continue
            if message.get("type") == "snapshot":
                backoff.reset()  # subscribed: the hub is healthy again
            for event in events:
                yield event


async def _after_refusal(
    error: HubError, channel: Channel[T], link: Link, backoff: Backoff
) -> None:
    """Return when the subscription is worth sending again; raise if it never is."""
    if channel.refused(error):
        return
    if not retryable(error.code):
        raise error
    await link.pause(backoff.next_delay())


def _messages(raw: str | bytes) -> list[dict[str, Any]]:
    """One frame's messages: an object, or an array of them on a batching socket."""
    decoded = orjson.loads(raw)
    items = decoded if isinstance(decoded, list) else [decoded]
    return [item for item in items if isinstance(item, dict)]


def _handshake_retry(refused: InvalidStatus) -> float:
    """Seconds to wait before trying a refused handshake again; raise if pointless."""
    response = refused.response
    status = response.status_code
    if status in (401, 403):
        raise AuthenticationError(
            "unauthorized",
            "the hub refused the socket (token missing or wrong, or origin not allowed)",
            status=status,
        ) from None
    if status in (429, 503) or status >= 500:
        return _seconds(response.headers.get("Retry-After"))
    raise HubError("refused", f"the hub refused the socket with HTTP {status}", status=status)


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header else 0.0
    except ValueError:
        return 0.0  # an HTTP date: the backoff stands in for it
