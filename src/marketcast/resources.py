"""The shape every long-lived resource shares (``async with`` closes it with ``aclose``),
and the one way a resource stops a task it owns."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Final, Self

log = logging.getLogger(__name__)

CANCEL_DEADLINE_S: Final = 5.0
CANCEL_RETRY_S: Final = 0.05
# Longer than the WebSocket close timeout (2 s), so a closing connection is never cut short.
CANCEL_GRACE_S: Final = 3.0


class AsyncResource:
    """Subclasses implement :meth:`aclose`; entering returns the resource itself."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def cancel_and_wait(
    task: asyncio.Task[Any],
    *,
    deadline_s: float = CANCEL_DEADLINE_S,
    grace_s: float = CANCEL_GRACE_S,
    retry_s: float = CANCEL_RETRY_S,
) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again while it runs on.

    redis-py can swallow a cancellation that lands inside a command (redis/redis-py#2028,
    #2551): the task carries on as if nothing happened and a plain cancel-and-await waits
    forever; cancelling again ends it at its next await. The first cancel gets ``grace_s``
    to run its cleanup (closing a socket in a ``finally``): cancelling that cleanup too
    would leave the socket for the garbage collector. Gives up with a warning after
    ``deadline_s``, so a shutdown is never held hostage. What the task ends with (its own
    ``CancelledError``, a crash its owner reports) stays here, but a cancellation aimed at
    the *caller* (a shutdown deadline, ``asyncio.timeout``) propagates as usual.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    task.cancel()
    await asyncio.wait([task], timeout=min(grace_s, deadline_s))
    while not task.done():
        left = deadline - loop.time()
        if left <= 0:
            log.warning("task %s ignored cancellation for %.1fs", task.get_name(), deadline_s)
            return
        task.cancel()
        await asyncio.wait([task], timeout=min(retry_s, left))
    if not task.cancelled():
        task.exception()  # retrieved: its owner logs a crash, asyncio need not warn again


async def close_together(*closes: Awaitable[None]) -> None:
    """Await every close at once; raise the first failure once all of them have ended.

    For resources that do not depend on each other: their waits overlap instead of adding
    up, and one failing close does not leave the others half done.
    """
    results = await asyncio.gather(*closes, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
