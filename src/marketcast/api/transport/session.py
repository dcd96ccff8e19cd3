"""One client WebSocket: a bounded outbound buffer drained by a single writer task.

Producers (the bus, request handlers) call :meth:`ClientSession.send`, which never awaits.
While nothing is queued the message is written in place, the way a bare broadcast
writes: straight to the connection (:mod:`.direct`) or through ASGI (:mod:`.eager`).
Otherwise it is queued and the writer sends in order.

A client is a slow consumer when its queue overflows, when a send waits longer than the
send deadline, or (under uvicorn) when it stops acknowledging what it was sent
(:mod:`.liveness`). It is unsubscribed at once, logged once with its counts, and closed
with 4008 as soon as its socket takes the close frame; one that takes nothing for the
close deadline is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from marketcast.api.transport import direct, eager, light
from marketcast.api.transport.batching import BatchWindow
from marketcast.api.transport.interrupt import until_done
from marketcast.api.transport.liveness import AckPolicy, Acks
from marketcast.api.transport.outbound import OutboundBuffer

log = logging.getLogger(__name__)

SLOW_CONSUMER = 4008
SLOW_CONSUMER_REASON = "slow consumer: resume with since"
_BATCH = 256
# A slow consumer that starts reading again within this still gets its 4008 close (and
# the reason: resume with since); after it the socket is dropped.
_CLOSE_DEADLINE_S = 30.0
# Sockets whose every update replaces the queued one (order books, trade windows) never
# overflow the queue, so a client that stopped reading is found by time instead.
DEFAULT_SEND_DEADLINE_S = 15.0
_ids = itertools.count(1)


def _array(messages: list[str]) -> str:
    """One batched frame: the JSON array of already encoded messages."""
    return "[" + ",".join(messages) + "]"


class ClientSession:
    def __init__(
        self,
        websocket: WebSocket,
        queue_limit: int,
        send_deadline_s: float = DEFAULT_SEND_DEADLINE_S,
        *,
        batch: BatchWindow | None = None,
        acks: AckPolicy | None = None,
        on_slow: Callable[[], None] = lambda: None,
    ) -> None:
        self.websocket = websocket
        self._on_slow = on_slow
        self.send_deadline_s = send_deadline_s
        # ``None``: one message per frame. Otherwise every frame is a JSON array of what
        # was queued since the last one, sent when the batch window closes: a frame, a
        # write and a syscall saved per extra message.
        self.batch = batch
        # Sends run in place while nothing is queued or in flight (see .eager); a send
        # that had to wait is finished by the writer before anything queued after it.
        self._in_flight: eager.Suspended | None = None
        # Under uvicorn, frames that can go out at once are written to the connection
        # without the ASGI layers (see .direct); ``None`` elsewhere.
        self._direct = direct.writer_for(websocket)
        # What the client has acknowledged; only where pings can be sent and seen.
        self.acks: Acks | None = None
        if acks is not None and self._direct is not None:
            loop = asyncio.get_running_loop()
            self.acks = Acks(acks, last_ack_at=loop.time())
            self._direct.on_pong(lambda payload: self._pong(payload, loop.time()))
        self._writing = False
        self.id = next(_ids)
        # Made when the first message has to wait: most clients never queue one, and an
        # empty deque still holds a block of 64 slots (0.7 KB per connection).
        self.buffer: OutboundBuffer | None = None
        self._queue_limit = queue_limit
        self._wake = light.Event()  # allocates only while the writer waits
        self._cleanups: list[Callable[[], None]] = []
        self.close_code: int | None = None
        self._writer: asyncio.Task[None] | None = None

    def on_close(self, cleanup: Callable[[], None]) -> Callable[[], None]:
        """Run ``cleanup`` when the session ends; return a function that runs it now."""
        self._cleanups.append(cleanup)

        def run_now() -> None:
            if cleanup in self._cleanups:
                self._cleanups.remove(cleanup)
                cleanup()

        return run_now

    def cancel_on_close(self, cleanup: Callable[[], None]) -> None:
        """Forget ``cleanup`` given to :meth:`on_close` (its owner ended it already)."""
        if cleanup in self._cleanups:
            self._cleanups.remove(cleanup)

    def send(self, text: str, key: Hashable | None = None) -> None:
        if self.close_code is not None:
            return
        busy = self._writing or self._in_flight is not None
        if self.batch is None and not (busy or self.buffer):
            # Fan-out's hot path, called once per subscriber per update: the direct write
            # and its byte count are spelled out here rather than reached through
            # ``_send_now``, two calls fewer for every delivered frame.
            direct = self._direct
            if direct is not None and direct.write(text):
                if (acks := self.acks) is not None:
                    acks.sent += len(text)
                return
            self._send_asgi(text)
            return
        buffer = self.buffer
        if buffer is None:
            buffer = self.buffer = OutboundBuffer(self._queue_limit)
        if not buffer.push(text, key):
            self.close_slow(f"more than {buffer.limit} messages queued")
        elif self.batch is not None and not busy:
            self.batch.mark(self)
        else:
            self._wake.set()

    def flush_batch(self) -> None:
        """The batch window closed: send what is queued as one array, in place."""
        if self.close_code is not None:
            return
        if self._busy:
            self._wake.set()  # the writer is at it; it sends the queue after
            return
        if batch := self._pop_batch():
            self._send_now(_array(batch))
        if self.buffer:
            self._wake.set()  # more than one frame's worth

    @property
    def queued(self) -> int:
        """How many messages wait to be sent."""
        return 0 if self.buffer is None else len(self.buffer)

    def _pop_batch(self) -> list[str]:
        return [] if self.buffer is None else self.buffer.pop_batch(_BATCH)

    @property
    def _busy(self) -> bool:
        """The writer is sending, or a send that had to wait is still unfinished."""
        return self._writing or self._in_flight is not None

    def _write_direct(self, text: str) -> bool:
        """Write ``text`` straight to the connection if it can take it now (see .direct)."""
        if self._direct is not None and self._direct.write(text):
            self._wrote(text)
            return True
        return False

    def _wrote(self, text: str) -> None:
        if self.acks is not None:
            self.acks.wrote(len(text))

    def _pong(self, payload: bytes, now: float) -> None:
        if self.acks is not None:
            self.acks.ponged(payload, now)

    def check_liveness(self, now: float) -> None:
        """Close the client if it stopped acknowledging; ping it when one is due."""
        acks = self.acks
        if acks is None or self.close_code is not None or self._direct is None:
            return
        if (lag := acks.lag(now)) is not None:
            self.close_slow(lag)
        elif (payload := acks.next_ping(now)) is not None and not self._direct.ping(payload):
            acks.ping = None  # paused: the send deadline watches this client instead

    def close_slow(self, reason: str) -> None:
        """Close a slow consumer with 4008, logging why once with its counts."""
        if self.close_code is not None:
            return
        counts: dict[str, object] = {"conn": self.id, "queued": self.queued}
        if self.acks is not None:
            counts |= {"sent_bytes": self.acks.sent, "unacked_bytes": self.acks.unacked}
        log.warning("slow consumer closed (4008): %s", reason, extra=counts)
        self._on_slow()
        self.shutdown(SLOW_CONSUMER)

    def _send_now(self, text: str) -> None:
        """Write ``text`` without a task hop; hand the send to the writer if it must wait."""
        if not self._write_direct(text):
            self._send_asgi(text)

    def _send_asgi(self, text: str) -> None:
        """Send ``text`` through ASGI in place; hand it to the writer if it must wait."""
        try:
            started = eager.start(self.websocket.send_text(text))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.shutdown(1000)  # the client went away: end as the writer would
            return
        if started is not eager.DONE:
            assert isinstance(started, tuple)
            self._in_flight = started
            self._wake.set()
        self._wrote(text)

    def shutdown(self, code: int) -> None:
        """Stop feeding this client and ask the writer to close with ``code``."""
        if self.close_code is None:
            self.close_code = code
            self._run_cleanups()
            self._wake.set()
            if code == SLOW_CONSUMER and self._writer is not None:
                # The writer may be parked on a socket the client no longer drains;
                # give it a deadline instead of holding its buffer until TCP gives up.
                asyncio.get_running_loop().call_later(_CLOSE_DEADLINE_S, self._give_up)

    def _give_up(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            if self._direct is not None:
                self._direct.abort()

    def end(self) -> None:
        """The endpoint is done with this socket: stop feeding and counting it, if
        :meth:`serve` has not (a socket refused after it was accepted never serves)."""
        if self.close_code is None:
            self.close_code = 1000
        self._run_cleanups()

    def _run_cleanups(self) -> None:
        cleanups, self._cleanups = self._cleanups, []
        for cleanup in cleanups:
            cleanup()

    async def _send_queued(self) -> None:
        """Finish a send in flight, then send what is queued, in order."""
        self._writing = True
        try:
            if await self._finish_in_flight():
                await self._send_buffered()
        finally:
            self._writing = False

    async def _finish_in_flight(self) -> bool:
        """Complete a send that started in place and had to wait; ``False`` if it timed out."""
        if self._in_flight is None:
            return True
        try:
            async with asyncio.timeout(self.send_deadline_s):
                await eager.finish(self._in_flight)
        except TimeoutError:
            self.close_slow(f"a send waited over {self.send_deadline_s:g}s")
            return False
        finally:
            self._in_flight = None
        return True

    async def _send_buffered(self) -> None:
        """Send what is queued; a slow consumer's backlog is abandoned at once.

        One deadline covers a batch and each sent frame pushes it on: a timer per frame
        was a tenth of the fan-out cost. Pushing it on costs a timer too, so it is done
        once a tenth of the deadline has passed: a client that stops reading is closed
        after 0.9 to 1 deadline without progress.
        """
        loop = asyncio.get_running_loop()
        deadline_s = self.send_deadline_s
        while self.close_code != SLOW_CONSUMER and (batch := self._pop_batch()):
            armed = loop.time()
            frames = batch if self.batch is None else [_array(batch)]
            try:
                async with asyncio.timeout_at(armed + deadline_s) as deadline:
                    for text in frames:
                        if not self._write_direct(text):
                            await self.websocket.send_text(text)
                            self._wrote(text)
                        if (now := loop.time()) - armed > deadline_s / 10:
                            armed = now
                            deadline.reschedule(now + deadline_s)
            except TimeoutError:
                self.close_slow(f"a send waited over {deadline_s:g}s")
                return

    def _closing(self) -> bool:
        return self.close_code is not None

    async def write_loop(self) -> None:
        """Send queued frames in order until shutdown, then send the close frame."""
        try:
            while not self._closing():
                await self._wake.wait()
                self._wake.clear()
                await self._send_queued()
            slow = self.close_code == SLOW_CONSUMER
            if not slow:
                await self._send_queued()  # e.g. an error queued just before a close
            reason = SLOW_CONSUMER_REASON if slow else ""
            try:
                async with asyncio.timeout(_CLOSE_DEADLINE_S):
                    await self.websocket.close(self.close_code or 1000, reason)
            except TimeoutError:
                if self._direct is not None:
                    self._direct.abort()  # it took nothing for the whole deadline
            except Exception:
                pass  # the client went away
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away; the reader notices too
        finally:
            if self._in_flight is not None:  # a slow consumer's send that never finished
                self._in_flight[0].close()
                self._in_flight = None
            self._run_cleanups()

    async def serve(self, read_loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``read_loop`` in this task and the writer beside it until either ends
        (the writer's end interrupts the read loop: :mod:`.interrupt`)."""
        writer = asyncio.create_task(self.write_loop(), name=f"ws-writer {self.id}")
        self._writer = writer
        try:
            await until_done(writer, read_loop())
        finally:
            if self.close_code is None:
                self.close_code = 1000
                self._wake.set()
            self._run_cleanups()
            # Once reading has stopped the socket is closing: the writer ends quickly
            # unless the client stopped reading, which the close deadline bounds.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer
