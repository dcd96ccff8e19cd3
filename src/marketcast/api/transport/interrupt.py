"""Awaiting a coroutine in the current task until another task ends.

A session reads its client in the endpoint's own task while its writer runs as a task
beside it; either ending ends the session. Reading in a task of its own and waiting on
both with ``asyncio.wait`` cost every connection a task, a waiter future and callbacks
(2 KB of heap). Here the writer's end interrupts the reading task instead, by cancelling
it and taking that cancellation back once it has unwound, as ``asyncio.timeout`` does;
a cancellation from anywhere else still goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


class _Interrupt:
    """The done callback that cancels the reading task, while it is still reading."""

    __slots__ = ("fired", "reading")

    def __init__(self, reading: asyncio.Task[Any]) -> None:
        self.reading: asyncio.Task[Any] | None = reading
        self.fired = False

    def __call__(self, _: asyncio.Task[Any]) -> None:
        if self.reading is not None:
            self.fired = True
            self.reading.cancel()


async def until_done(other: asyncio.Task[Any], body: Awaitable[None]) -> None:
    """Await ``body`` in this task; if ``other`` ends first, interrupt ``body`` and return.

    Either way this returns normally; a cancellation of this task that ``other`` did not
    make is raised as usual (also when both happen).
    """
    reading = asyncio.current_task()
    assert reading is not None, "until_done runs in a task"
    interrupt = _Interrupt(reading)
    other.add_done_callback(interrupt)
    try:
        await body
    except asyncio.CancelledError:
        if not interrupt.fired or reading.uncancel() > 0:
            raise
    finally:
        interrupt.reading = None  # done reading: the other's end cancels nothing now
        other.remove_done_callback(interrupt)
