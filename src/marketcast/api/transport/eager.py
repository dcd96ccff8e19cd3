"""Running a coroutine at once, as far as it goes without waiting.

A WebSocket send through Starlette and uvicorn is a coroutine that only waits when the
client's socket is paused for writing; otherwise it writes and returns without ever
suspending. Fan-out runs such sends in place (:func:`start`): no task, no wake-up, no
trip through the event loop per delivered update. The rare send that does suspend is
handed to a task, which drives it to its end (:func:`finish`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Final


class _Done:
    """What :func:`start` returns for a coroutine that ran to its end."""


DONE: Final = _Done()

Suspended = tuple[Coroutine[Any, Any, None], object]


def start(coro: Coroutine[Any, Any, None]) -> Suspended | _Done:
    """Run ``coro`` until it first waits; return it with what it waits on, or ``DONE``.

    Exceptions raised before it waits propagate, as an ``await`` would raise them.
    """
    try:
        waiting = coro.send(None)
    except StopIteration:
        return DONE
    return coro, waiting


async def finish(suspended: Suspended) -> None:
    """Drive a coroutine that :func:`start` left waiting to its end, in this task.

    What it waits on is awaited here; the coroutine then reads the outcome itself when
    resumed (``Future.__await__`` returns the result or raises), as under a task.
    Cancelling this task closes the coroutine.
    """
    coro, waiting = suspended
    try:
        while True:
            if isinstance(waiting, asyncio.Future):
                await asyncio.wait([waiting])
            else:
                await asyncio.sleep(0)  # a bare yield: just give the loop a turn
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
    except BaseException:
        coro.close()
        raise
