"""A relay in front of the simulator's streams that records the liquidations it delivers.

The simulator's truth lists every liquidation that happened, but ``@forceOrder`` only
carries those pushed while a connection is open and not stalled, and nothing can fetch
one again (Binance has no such REST route): a liquidation the exchange never put on a
node's socket (a drop, a stall, downtime, a reconnect) is lost on the wire, not by the
hub. The simulator does not record what it sent, so the soak puts a :class:`Relay` on each
node's ``--futures-ws-base`` (only liquidations come from there in the soak: it follows no
USD-M candles, books or trades) and counts what the relay handed to the node's socket.

The relay passes everything through as it comes, so the faults reach the node as they
would directly: frames both ways, the close code, an abrupt drop as an abrupt drop, and a
refused handshake (downtime's 503) as the same refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from decimal import Decimal

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from marketcast.domain.liquidations import Liquidation, OrderSide
from marketcast.resources import AsyncResource

# Close codes a close frame cannot carry: "no status" and "closed abnormally" are what
# the receiving end reports, never sent.
_UNSENDABLE = frozenset({1005, 1006, 1015})


@dataclass(frozen=True, slots=True)
class Delivery:
    """One liquidation handed to a node's socket, at ``at_s`` (``time.monotonic()``)."""

    at_s: float
    liquidation: Liquidation


def force_order(frame: str | bytes) -> Liquidation | None:
    """The liquidation a ``@forceOrder`` frame (raw or combined) carries, if it is one.

    Garbage frames (the ``malformed`` fault) are not liquidations, for the hub neither.
    """
    if b"forceOrder" not in (frame if isinstance(frame, bytes) else frame.encode()):
        return None
    try:
        body = orjson.loads(frame)
        data = body.get("data", body)
        if data.get("e") != "forceOrder":
            return None
        order = data["o"]
        side: OrderSide = "BUY" if order["S"] == "BUY" else "SELL"
        # ``z``: the filled quantity, what was liquidated (the hub keeps the same).
        quantity, price, average = (Decimal(order[k]) for k in ("z", "p", "ap"))
        return Liquidation(order["s"], side, quantity, price, average, int(order["T"]))
    except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError):
        return None


class Relay(AsyncResource):
    """Relays every stream connection made to :attr:`base` to ``upstream`` (the same path
    and query), and records in :attr:`delivered` each liquidation sent down to the node.

    :meth:`freeze` stops passing liquidations on, so that what the node was given is
    final and the account can wait for the node to hold it all; :meth:`node_killed`
    notes when the node behind it was killed (see :mod:`soak.liquidations`).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.delivered: list[Delivery] = []
        self.kills: list[float] = []  # time.monotonic() once each SIGKILL took effect
        self.frozen = False
        self._server: Server | None = None
        self._opened: dict[ServerConnection, ClientConnection] = {}

    @property
    def base(self) -> str:
        assert self._server is not None, "the relay is not serving"
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def freeze(self) -> None:
        self.frozen = True

    def node_killed(self) -> None:
        """Call once the node is dead: what is delivered after this went to no process
        before it (a send to the dead socket fails, and is not recorded)."""
        self.kills.append(time.monotonic())

    async def __aenter__(self) -> Relay:
        # No pings of its own and no size limit: the relay must not end a connection the
        # node and the simulator would have kept (each still pings its side of the relay).
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            process_request=self._open_upstream,
            ping_interval=None,
            max_size=None,
        )
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for upstream in self._opened.values():
            await upstream.close()

    async def _open_upstream(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Connect upstream before accepting, so that a refusal is passed on as such."""
        try:
            upstream = await connect(
                self.upstream + request.path, ping_interval=None, max_size=None
            )
        except InvalidStatus as refused:
            response = refused.response
            return connection.respond(response.status_code, response.body.decode(errors="replace"))
        except (OSError, TimeoutError) as error:
            return connection.respond(502, f"relay: upstream unreachable: {error}")
        self._opened[connection] = upstream
        return None

    async def _serve(self, downstream: ServerConnection) -> None:
        upstream = self._opened.pop(downstream)
        down = asyncio.create_task(self._forward(upstream, downstream, record=True))
        up = asyncio.create_task(self._forward(downstream, upstream, record=False))
        try:
            done, _ = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
            # The first end to go decides how the other one goes.
            gone, other = (upstream, downstream) if down in done else (downstream, upstream)
            if gone.close_code is None:  # the forward stopped on the other end's failure
                gone, other = other, gone
            await _end_like(gone, other)
        finally:
            for task in (down, up):
                task.cancel()
            await asyncio.gather(down, up, return_exceptions=True)
            with contextlib.suppress(Exception):
                await upstream.close()

    async def _forward(self, source: Connection, sink: Connection, *, record: bool) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in source:
                liquidation = force_order(frame) if record else None
                if liquidation is not None and self.frozen:
                    continue
                await sink.send(frame)
                if liquidation is not None:  # on its socket: the node was given it
                    self.delivered.append(Delivery(time.monotonic(), liquidation))


async def _end_like(gone: Connection, other: Connection) -> None:
    """End ``other`` as ``gone`` ended: with its close code, or abruptly."""
    code = gone.close_code
    if code is None or code == 1006:
        other.transport.abort()
    elif code in _UNSENDABLE:
        await other.close()
    else:
        await other.close(code, gone.close_reason or "")
